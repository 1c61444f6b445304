//! The packages of a repository as lists that cost O(page) at any size: who may list what is
//! decided once and filtered in the query ([`Listed`]), pages follow the name (keyset) or a
//! bounded offset, searches use the search indexes (SQLite FTS5 trigram, PostgreSQL
//! `pg_trgm`), and documents that must name every package are built once per change of the
//! repository ([`revision`]) and kept ([`DocumentCache`]).

use std::future::Future;

use bytes::Bytes;
use packistry_shared::permissions::Permission;
use sea_orm::sea_query::{Expr, Func, LikeExpr, Order, SimpleExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Select,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::db::entities::{packages, repositories};
use crate::error::{Error, Result};
use crate::services::access::{Access, PackageScope};

/// The most rows one page may ask for.
pub const MAX_PAGE: u64 = 1000;
/// The deepest offset a numbered page may start at; deeper, follow the name (keyset).
pub const MAX_OFFSET: u64 = 10_000;
/// Names read per query when a whole list is written out.
const NAME_BATCH: u64 = 2000;

/// Which packages of a repository a caller may list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listed {
    All,
    /// A deploy token limited to these names (sorted; at most
    /// [`crate::services::tokens::MAX_PACKAGE_NAMES`]).
    Only(Vec<String>),
}

/// What the caller may list of a repository, or the error for one who may not list it.
pub fn listed(access: &Access, repository: &repositories::Model) -> Result<Listed> {
    access.check(repository, PackageScope::Repository, &[Permission::List])?;
    Ok(match access.principal.token() {
        Some(token) if !token.package_names.is_empty() => {
            let mut names = token.package_names.clone();
            names.sort_unstable();
            names.dedup();
            Listed::Only(names)
        }
        _ => Listed::All,
    })
}

/// Narrows a list; empty: everything listed.
#[derive(Debug, Default, Clone, Copy)]
pub struct Filter<'a> {
    /// Words that must each appear in the name or the description (case-insensitive).
    pub search: Option<&'a str>,
    /// The Composer type (`library` where none was given).
    pub kind: Option<&'a str>,
    /// A name pattern where `*` stands for any run of characters (Composer's `list.json`).
    pub name_wildcard: Option<&'a str>,
    /// Names that start with this, exactly (case-sensitive).
    pub name_prefix: Option<&'a str>,
}

impl Filter<'_> {
    fn is_empty(&self) -> bool {
        self.words().next().is_none()
            && self.kind.is_none()
            && self.name_wildcard.is_none()
            && self.name_prefix.is_none()
    }

    /// The search's words, lowercase, without control characters (nothing a name or a
    /// description can hold, and nothing to hand the search index).
    fn words(&self) -> impl Iterator<Item = String> + '_ {
        self.search
            .unwrap_or_default()
            .split_whitespace()
            .map(|word| word.chars().filter(|c| !c.is_control()).collect::<String>())
            .filter(|word| !word.is_empty())
            .map(|word| word.to_lowercase())
    }
}

/// `text` as a literal in a LIKE pattern with `!` as the escape character (not `\`: a
/// backslash in a custom expression stops sea-query from binding its `?` on PostgreSQL).
fn like_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '!') {
            out.push('!');
        }
        out.push(c);
    }
    out
}

/// A trigram phrase for FTS5: quoted, quotes doubled.
fn fts_phrase(word: &str) -> String {
    format!("\"{}\"", word.replace('"', "\"\""))
}

/// Below this many packages a repository's search reads its own rows: the SQLite search
/// index spans every repository, and a common word's matches in a big one would make a
/// small one's search as slow as the big one's.
const SCAN_BELOW: u64 = 2000;

/// How many index entries a walk tests for the cost of fetching and sorting one match
/// (measured at 100,000 packages: 0.4–1.6 µs against 3–6 µs, both databases).
const WALK_COST: u128 = 4;

/// Where a search starts: the search index, or the repository's own rows in name order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// The matches from the search index, sorted: costs O(matches).
    Index,
    /// The repository's names in order, each tested: costs O(wanted / density).
    Scan,
}

/// How a list is read. A search through the index fetches and sorts every match; a walk
/// of the names tests index entries (`packages_search_walk`: the text is in the index, the
/// row is read only for a match) until `wanted` matches turn up, about `wanted × packages /
/// matches` of them, each [`WALK_COST`] times cheaper than a match. When the number of
/// matches is known (counted before), the cheaper way is taken: a common word is found by
/// walking the names, a rare one through the index. On SQLite a small repository always
/// walks its own rows: the search index spans every repository, and a common word's
/// matches in a big one would make a small one's search as slow as the big one's.
fn plan(
    backend: DatabaseBackend,
    revision: Option<Revision>,
    matches: Option<u64>,
    wanted: u64,
) -> Plan {
    let Some(revision) = revision else {
        return Plan::Index;
    };
    if backend == DatabaseBackend::Sqlite && revision.package_count < SCAN_BELOW {
        return Plan::Scan;
    }
    match matches {
        Some(matches)
            if (u128::from(matches) * u128::from(matches)).saturating_mul(WALK_COST)
                > u128::from(wanted.max(1)) * u128::from(revision.package_count) =>
        {
            Plan::Scan
        }
        _ => Plan::Index,
    }
}

/// The revision a search's plan needs (none without search words).
async fn revision_for(
    db: &impl ConnectionTrait,
    repository_id: Uuid,
    filter: &Filter<'_>,
) -> Result<Option<Revision>> {
    if filter.words().next().is_none() {
        return Ok(None);
    }
    Ok(Some(revision(db, repository_id).await?))
}

fn select(
    backend: DatabaseBackend,
    plan: Plan,
    repository_id: Uuid,
    listed: &Listed,
    filter: &Filter,
) -> Select<packages::Entity> {
    let mut query = packages::Entity::find();
    let words: Vec<String> = filter.words().collect();
    let indexed: Vec<&String> = words.iter().filter(|w| w.chars().count() >= 3).collect();
    if backend == DatabaseBackend::Sqlite && plan == Plan::Index && !indexed.is_empty() {
        // Start from the matches (the `+` keeps the planner off the repository index, which
        // would walk every package of the repository).
        let phrases: Vec<String> = indexed.iter().map(|w| fts_phrase(w)).collect();
        query = query
            .filter(Expr::cust_with_values(
                "packages.rowid IN (SELECT rowid FROM package_search WHERE package_search MATCH ?)",
                [phrases.join(" ")],
            ))
            .filter(Expr::cust_with_values(
                "+packages.repository_id = ?",
                [repository_id],
            ));
        for word in words.iter().filter(|w| w.chars().count() < 3) {
            query = query.filter(text_contains(word));
        }
    } else {
        query = query.filter(packages::Column::RepositoryId.eq(repository_id));
        for word in &words {
            query = query.filter(text_contains(word));
        }
    }
    if let Listed::Only(names) = listed {
        query = query.filter(packages::Column::Name.is_in(names.iter().cloned()));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(
            Expr::expr(Func::coalesce([
                Expr::col((packages::Entity, packages::Column::Kind)).into(),
                Expr::val("library").into(),
            ]))
            .eq(kind),
        );
    }
    if let Some(pattern) = filter.name_wildcard {
        // Composer names are lowercase; its filters are not case-sensitive.
        let pattern = pattern.to_lowercase();
        query = query.filter(name_matches(backend, pattern.split('*')));
    }
    if let Some(prefix) = filter.name_prefix {
        query = query.filter(name_matches(backend, [prefix, ""].into_iter()));
    }
    query
}

/// The name or the description contains `word` (lowercase).
fn text_contains(word: &str) -> SimpleExpr {
    // Built, not written out: sea-query leaves a `?` unbound on PostgreSQL in a custom
    // expression that quotes a string.
    Expr::expr(Func::lower(Expr::cust(
        "packages.name || ' ' || packages.description",
    )))
    .like(LikeExpr::new(format!("%{}%", like_escaped(word))).escape('!'))
}

/// The name is the literal `parts` with any run of characters between each two (and after
/// the last one when it is empty); the first part, a prefix, uses the name index (SQLite
/// GLOB, PostgreSQL LIKE over `text_pattern_ops`). Both match case-sensitively.
fn name_matches<'p>(backend: DatabaseBackend, parts: impl Iterator<Item = &'p str>) -> SimpleExpr {
    let sqlite = backend == DatabaseBackend::Sqlite;
    let escaped: Vec<String> = parts
        .map(|part| {
            if sqlite {
                let mut glob = String::with_capacity(part.len());
                for c in part.chars() {
                    match c {
                        '*' => glob.push_str("[*]"),
                        '?' => glob.push_str("[?]"),
                        '[' => glob.push_str("[[]"),
                        c => glob.push(c),
                    }
                }
                glob
            } else {
                like_escaped(part)
            }
        })
        .collect();
    if sqlite {
        Expr::cust_with_values("packages.name GLOB ?", [escaped.join("*")])
    } else {
        Expr::col((packages::Entity, packages::Column::Name))
            .like(LikeExpr::new(escaped.join("%")).escape('!'))
    }
}

fn ordered(
    backend: DatabaseBackend,
    plan: Plan,
    query: Select<packages::Entity>,
    filter: &Filter,
) -> Select<packages::Entity> {
    if backend == DatabaseBackend::Postgres && filter.search.is_some() && plan == Plan::Index {
        // Sorting the matches beats walking the name index until a page of them turns up.
        query.order_by(Expr::cust("packages.name || ''"), Order::Asc)
    } else {
        query.order_by_asc(packages::Column::Name)
    }
}

/// Where a page starts.
#[derive(Debug, Clone, Copy)]
pub enum Start<'a> {
    /// After this name (keyset), or at the first when none.
    After(Option<&'a str>),
    /// At the `n`th, counted from 0; beyond [`MAX_OFFSET`] refused.
    Offset(u64),
}

/// Up to `limit` packages of a list, by name, from `start`.
pub async fn page(
    db: &impl ConnectionTrait,
    repository_id: Uuid,
    listed: &Listed,
    filter: &Filter<'_>,
    start: Start<'_>,
    limit: u64,
) -> Result<Vec<packages::Model>> {
    let revision = revision_for(db, repository_id, filter).await?;
    page_planned(
        db,
        repository_id,
        listed,
        filter,
        start,
        limit,
        revision,
        None,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn page_planned(
    db: &impl ConnectionTrait,
    repository_id: Uuid,
    listed: &Listed,
    filter: &Filter<'_>,
    start: Start<'_>,
    limit: u64,
    revision: Option<Revision>,
    matches: Option<u64>,
) -> Result<Vec<packages::Model>> {
    let limit = limit.clamp(1, MAX_PAGE);
    let offset = match start {
        Start::Offset(offset) if offset > MAX_OFFSET => return Err(too_deep()),
        Start::Offset(offset) => offset,
        Start::After(_) => 0,
    };
    let backend = db.get_database_backend();
    let plan = plan(backend, revision, matches, offset + limit);
    let mut query = select(backend, plan, repository_id, listed, filter);
    if let Start::After(Some(after)) = start {
        query = query.filter(packages::Column::Name.gt(after));
    }
    let mut query = ordered(backend, plan, query, filter).limit(limit);
    if offset > 0 {
        query = query.offset(offset);
    }
    if backend == DatabaseBackend::Postgres && plan == Plan::Scan && filter.search.is_some() {
        // The walk reads the index alone (an index-only scan); the rows of the page
        // follow by id. PostgreSQL would otherwise read every row the walk tests.
        let ids = query
            .select_only()
            .column(packages::Column::Id)
            .into_query();
        return Ok(packages::Entity::find()
            .filter(packages::Column::Id.in_subquery(ids))
            .order_by_asc(packages::Column::Name)
            .all(db)
            .await?);
    }
    Ok(query.all(db).await?)
}

fn too_deep() -> Error {
    Error::bad_input(format!(
        "page: results beyond the first {MAX_OFFSET} are not paged; narrow the search"
    ))
}

/// A page of a search from `start`, and how many results there are in all. The count is
/// kept per revision of the repository ([`CountCache`]), and tells the page which way is
/// cheaper ([`plan`]).
#[allow(clippy::too_many_arguments)]
pub async fn search(
    db: &impl ConnectionTrait,
    counts: &CountCache,
    repository_id: Uuid,
    listed: &Listed,
    filter: &Filter<'_>,
    start: Start<'_>,
    limit: u64,
) -> Result<(Vec<packages::Model>, u64)> {
    if matches!(start, Start::Offset(offset) if offset > MAX_OFFSET) {
        return Err(too_deep());
    }
    let revision = revision(db, repository_id).await?;
    let total = count_at(db, counts, repository_id, revision, listed, filter).await?;
    if total == 0 || matches!(start, Start::Offset(offset) if offset >= total) {
        return Ok((Vec::new(), total));
    }
    let rows = page_planned(
        db,
        repository_id,
        listed,
        filter,
        start,
        limit,
        Some(revision),
        Some(total),
    )
    .await?;
    Ok((rows, total))
}

/// Counts of searched and filtered lists, by repository revision, caller's list and
/// filter: the first ask counts the matches (O(matches)), the next ones until the
/// repository changes read the count. Idle counts leave after ten minutes.
pub type CountCache = moka::future::Cache<DocumentKey, u64>;

pub fn new_count_cache() -> CountCache {
    moka::future::Cache::builder()
        .max_capacity(100_000)
        .time_to_idle(std::time::Duration::from_secs(600))
        .build()
}

/// How many packages a list holds: the repository's kept count when nothing narrows it,
/// else the kept count of the matches.
pub async fn count(
    db: &impl ConnectionTrait,
    counts: &CountCache,
    repository_id: Uuid,
    listed: &Listed,
    filter: &Filter<'_>,
) -> Result<u64> {
    let revision = revision(db, repository_id).await?;
    count_at(db, counts, repository_id, revision, listed, filter).await
}

async fn count_at(
    db: &impl ConnectionTrait,
    counts: &CountCache,
    repository_id: Uuid,
    revision: Revision,
    listed: &Listed,
    filter: &Filter<'_>,
) -> Result<u64> {
    if *listed == Listed::All && filter.is_empty() {
        return Ok(revision.package_count);
    }
    let parts = [
        "count".to_owned(),
        format!("{:?}", filter.search),
        format!("{:?}", filter.kind),
        format!("{:?}", filter.name_wildcard),
        format!("{:?}", filter.name_prefix),
    ];
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    let key = DocumentKey::new(repository_id, revision, listed, &parts);
    counts
        .try_get_with(key, async {
            let backend = db.get_database_backend();
            // Counting through the index costs the matches; walking costs the repository.
            let plan = plan(backend, Some(revision), None, 0);
            Ok(select(backend, plan, repository_id, listed, filter)
                .count(db)
                .await?)
        })
        .await
        .map_err(unshared)
}

/// The error of a cached computation that failed, for one of the callers that waited.
fn unshared(err: std::sync::Arc<Error>) -> Error {
    match std::sync::Arc::try_unwrap(err) {
        Ok(err) => err,
        Err(shared) => Error::internal(anyhow::anyhow!("{shared}")),
    }
}

/// Every name of a list, in order, handed to `each` a batch at a time (memory bounded by
/// the batch, whatever the repository's size).
pub async fn each_name(
    db: &impl ConnectionTrait,
    repository_id: Uuid,
    listed: &Listed,
    filter: &Filter<'_>,
    mut each: impl FnMut(&str),
) -> Result<()> {
    let backend = db.get_database_backend();
    let plan = plan(
        backend,
        revision_for(db, repository_id, filter).await?,
        None,
        0,
    );
    let mut after: Option<String> = None;
    loop {
        let mut query = select(backend, plan, repository_id, listed, filter);
        if let Some(after) = &after {
            query = query.filter(packages::Column::Name.gt(after.as_str()));
        }
        let mut names: Vec<String> = query
            .select_only()
            .column(packages::Column::Name)
            .order_by_asc(packages::Column::Name)
            .limit(NAME_BATCH)
            .into_tuple()
            .all(db)
            .await?;
        for name in &names {
            each(name);
        }
        if (names.len() as u64) < NAME_BATCH {
            return Ok(());
        }
        after = names.pop();
    }
}

/// The names of a list as one JSON array, read in batches.
pub async fn names_json(
    db: &impl ConnectionTrait,
    repository_id: Uuid,
    listed: &Listed,
    filter: &Filter<'_>,
) -> Result<Box<serde_json::value::RawValue>> {
    let mut array = String::from("[");
    each_name(db, repository_id, listed, filter, |name| {
        if array.len() > 1 {
            array.push(',');
        }
        // A `String` is always valid JSON; writing to a `String` cannot fail.
        array.push_str(&serde_json::Value::from(name).to_string());
    })
    .await?;
    array.push(']');
    serde_json::value::RawValue::from_string(array).map_err(Error::internal)
}

/// A repository's content revision and package count, read fresh (cached repository rows
/// may be seconds old).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revision {
    pub content_revision: i64,
    pub package_count: u64,
}

pub async fn revision(db: &impl ConnectionTrait, repository_id: Uuid) -> Result<Revision> {
    let row: Option<(i64, i64)> = repositories::Entity::find_by_id(repository_id)
        .select_only()
        .column(repositories::Column::ContentRevision)
        .column(repositories::Column::PackageCount)
        .into_tuple()
        .one(db)
        .await?;
    let (content_revision, count) =
        row.ok_or_else(|| Error::internal(anyhow::anyhow!("repository {repository_id} vanished")))?;
    Ok(Revision {
        content_revision,
        package_count: count.max(0) as u64,
    })
}

/// Documents that name every package a caller may list, by what they were built from.
pub type DocumentCache = moka::future::Cache<DocumentKey, Kept>;

/// A kept document and when its build began (its `Last-Modified`: every change it does
/// not show came later).
#[derive(Debug, Clone)]
pub struct Kept {
    pub body: Bytes,
    pub built: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DocumentKey {
    repository_id: Uuid,
    content_revision: i64,
    /// The kind of document, the caller's list and anything else it depends on, hashed.
    variant: [u8; 16],
}

/// Up to 64 MiB of kept documents on each replica.
pub fn new_document_cache() -> DocumentCache {
    moka::future::Cache::builder()
        .max_capacity(64 * 1024 * 1024)
        // A document nobody asked for in an hour leaves (its repository may be quiet).
        .time_to_idle(std::time::Duration::from_secs(3600))
        .weigher(|_, kept: &Kept| kept.body.len().try_into().unwrap_or(u32::MAX))
        .build()
}

impl DocumentKey {
    /// The key of a document of `repository_id` at `revision`, for a caller's `listed` and
    /// whatever else shapes it (`parts`: kind of document, URL prefix, filters).
    pub fn new(repository_id: Uuid, revision: Revision, listed: &Listed, parts: &[&str]) -> Self {
        let mut hash = Sha256::new();
        for part in parts {
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part.as_bytes());
        }
        if let Listed::Only(names) = listed {
            hash.update(b"only");
            for name in names {
                hash.update((name.len() as u64).to_le_bytes());
                hash.update(name.as_bytes());
            }
        }
        let mut variant = [0u8; 16];
        variant.copy_from_slice(&hash.finalize()[..16]);
        DocumentKey {
            repository_id,
            content_revision: revision.content_revision,
            variant,
        }
    }

    /// The ETag of the document: known before it is built, the same on every replica.
    pub fn etag(&self) -> String {
        format!(
            "\"r{}-{}\"",
            self.content_revision,
            hex::encode(&self.variant[..8])
        )
    }
}

/// The kept document for `key`, built by `build` when missing; callers asking for the same
/// one at once wait for one build.
pub async fn document<F>(cache: &DocumentCache, key: DocumentKey, build: F) -> Result<Kept>
where
    F: Future<Output = Result<Bytes>>,
{
    cache
        .try_get_with(key, async {
            let built = chrono::Utc::now();
            Ok(Kept {
                body: build.await?,
                built,
            })
        })
        .await
        .map_err(unshared)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_their_wildcards() {
        assert_eq!(like_escaped("a_b%c!d"), "a!_b!%c!!d");
        assert_eq!(fts_phrase("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn document_keys_differ_by_caller_list_and_parts() {
        let id = Uuid::new_v4();
        let at = Revision {
            content_revision: 7,
            package_count: 3,
        };
        let all = DocumentKey::new(id, at, &Listed::All, &["packages.json", "/composer"]);
        let only = DocumentKey::new(
            id,
            at,
            &Listed::Only(vec!["a/b".into()]),
            &["packages.json", "/composer"],
        );
        let other_mount = DocumentKey::new(id, at, &Listed::All, &["packages.json", "/r"]);
        assert_ne!(all, only);
        assert_ne!(all.etag(), only.etag());
        assert_ne!(all, other_mount);
        let later = DocumentKey::new(
            id,
            Revision {
                content_revision: 8,
                ..at
            },
            &Listed::All,
            &["packages.json", "/composer"],
        );
        assert_ne!(all.etag(), later.etag());
        assert!(all.etag().starts_with("\"r7-"));
    }

    #[test]
    fn searches_walk_the_names_when_matches_are_dense_and_the_index_when_rare() {
        let big = Some(Revision {
            content_revision: 1,
            package_count: 100_000,
        });
        let small = Some(Revision {
            content_revision: 1,
            package_count: 100,
        });
        use DatabaseBackend::{Postgres, Sqlite};
        // Nothing to search: the plan does not matter; nothing known: the index.
        assert_eq!(plan(Sqlite, None, None, 15), Plan::Index);
        assert_eq!(plan(Postgres, big, None, 15), Plan::Index);
        // A small repository on SQLite reads its own rows; on PostgreSQL the index is its own.
        assert_eq!(plan(Sqlite, small, Some(1), 15), Plan::Scan);
        assert_eq!(plan(Postgres, small, Some(1), 15), Plan::Index);
        // 30,000 of 100,000 match: 15 turn up within ~50 names; 20 matches are sorted faster
        // than 100,000 names are walked.
        for backend in [Sqlite, Postgres] {
            assert_eq!(plan(backend, big, Some(30_000), 15), Plan::Scan);
            assert_eq!(plan(backend, big, Some(20), 15), Plan::Index);
            // Deep pages walk further: the same matches may be better sorted.
            assert_eq!(plan(backend, big, Some(2_000), 15), Plan::Scan);
            assert_eq!(plan(backend, big, Some(2_000), 10_015), Plan::Index);
        }
        // No overflow at the extremes.
        let huge = Some(Revision {
            content_revision: 1,
            package_count: u64::MAX,
        });
        assert_eq!(plan(Postgres, huge, Some(u64::MAX), u64::MAX), Plan::Scan);
        assert_eq!(plan(Postgres, huge, Some(1), u64::MAX), Plan::Index);
    }
}
