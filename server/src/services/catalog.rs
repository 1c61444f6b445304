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
    QueryOrder, QuerySelect, Select,
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

/// Where a search starts: the search index, or the repository's own rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    Index,
    Scan,
}

async fn plan(db: &impl ConnectionTrait, repository_id: Uuid, filter: &Filter<'_>) -> Result<Plan> {
    if db.get_database_backend() != DatabaseBackend::Sqlite || filter.words().next().is_none() {
        return Ok(Plan::Index);
    }
    Ok(
        if revision(db, repository_id).await?.package_count < SCAN_BELOW {
            Plan::Scan
        } else {
            Plan::Index
        },
    )
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
    query: Select<packages::Entity>,
    filter: &Filter,
) -> Select<packages::Entity> {
    if backend == DatabaseBackend::Postgres && filter.search.is_some() {
        // Sorting the matches beats walking the name index until a page of them turns up.
        query.order_by(Expr::cust("packages.name || ''"), Order::Asc)
    } else {
        query.order_by_asc(packages::Column::Name)
    }
}

/// Up to `limit` packages after the name `after`, by name.
pub async fn page(
    db: &impl ConnectionTrait,
    repository_id: Uuid,
    listed: &Listed,
    filter: &Filter<'_>,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<packages::Model>> {
    let backend = db.get_database_backend();
    let plan = plan(db, repository_id, filter).await?;
    let mut query = select(backend, plan, repository_id, listed, filter);
    if let Some(after) = after {
        query = query.filter(packages::Column::Name.gt(after));
    }
    Ok(ordered(backend, query, filter)
        .limit(limit.clamp(1, MAX_PAGE))
        .all(db)
        .await?)
}

/// Up to `limit` packages from the `offset`th, by name; an offset beyond [`MAX_OFFSET`] is
/// refused.
pub async fn page_at(
    db: &impl ConnectionTrait,
    repository_id: Uuid,
    listed: &Listed,
    filter: &Filter<'_>,
    offset: u64,
    limit: u64,
) -> Result<Vec<packages::Model>> {
    if offset > MAX_OFFSET {
        return Err(Error::bad_input(format!(
            "page: results beyond the first {MAX_OFFSET} are not paged; narrow the search"
        )));
    }
    let backend = db.get_database_backend();
    let plan = plan(db, repository_id, filter).await?;
    let query = select(backend, plan, repository_id, listed, filter);
    Ok(ordered(backend, query, filter)
        .offset(offset)
        .limit(limit.clamp(1, MAX_PAGE))
        .all(db)
        .await?)
}

/// How many packages a list holds: the repository's kept count when nothing narrows it.
pub async fn count(
    db: &impl ConnectionTrait,
    repository_id: Uuid,
    listed: &Listed,
    filter: &Filter<'_>,
) -> Result<u64> {
    if *listed == Listed::All && filter.is_empty() {
        return Ok(revision(db, repository_id).await?.package_count);
    }
    let plan = plan(db, repository_id, filter).await?;
    let query = select(
        db.get_database_backend(),
        plan,
        repository_id,
        listed,
        filter,
    );
    Ok(query.count(db).await?)
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
    let plan = plan(db, repository_id, filter).await?;
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
        .map_err(
            |err: std::sync::Arc<Error>| match std::sync::Arc::try_unwrap(err) {
                Ok(err) => err,
                Err(shared) => Error::internal(anyhow::anyhow!("{shared}")),
            },
        )
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
}
