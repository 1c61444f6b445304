//! `seed DATABASE_URL REPOSITORY TEMPLATE FROM TO`: adds the Composer packages FROM..TO of
//! [`packistry_tests::seed`] to a repository, copying the rows of TEMPLATE, a package of it
//! uploaded for real (`make bench-scale` seeds its repositories with it).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, repository, template, from, to] = args.as_slice() else {
        anyhow::bail!("usage: seed DATABASE_URL REPOSITORY TEMPLATE FROM TO");
    };
    let (from, to) = (from.parse()?, to.parse()?);
    let started = std::time::Instant::now();
    packistry_tests::seed::composer_packages(url, repository, template, from, to).await?;
    eprintln!(
        "seeded {} packages into {repository} in {:.1} s",
        to - from,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
