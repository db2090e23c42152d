//! SQLite (default) and PostgreSQL implementations of the service's storage traits.
//!
//! The key design decision: one implementation over sqlx's `Any` driver, so both databases run
//! the very same queries (written in the dialect they share: `$n` parameters, `||`, standard
//! types) and only the migrations differ by type names. Every trait method is one transaction.
//! SQLite runs with one connection in WAL mode: writes are serialised by the pool instead of
//! failing with `database is locked`, which at a till's pace costs nothing; `secure_delete` is on,
//! so deleted rows are overwritten in the file rather than left in free pages.

/// A query whose text is built only from this crate's own column-list constants, never from
/// input (values are always bound).
macro_rules! q {
    ($($t:tt)*) => {
        sqlx::query(sqlx::AssertSqlSafe(format!($($t)*)))
    };
}

mod devices;
mod entry;
mod invitations;
mod loyalty;
mod merchants;
mod palm_feed;
mod payments;
mod people;
mod privacy;
mod trips;
mod webhooks;

use async_trait::async_trait;
use palm_service::StoreError;
use palm_service::store::{Store, StoreResult};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};
use std::path::Path;
use std::time::Duration;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

pub struct SqlStore {
    pool: AnyPool,
    backend: &'static str,
}

/// Database errors as the service sees them: unique violations by rule name, everything else
/// as a backend failure. sqlx's messages name tables and constraints, never bound values.
/// Runs a compare-and-set statement: true when it changed exactly one row.
pub(crate) async fn changed_one<'q>(
    pool: &AnyPool,
    statement: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
) -> Result<bool, StoreError> {
    Ok(statement
        .execute(pool)
        .await
        .map_err(db_err)?
        .rows_affected()
        == 1)
}

pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        let name = db.constraint().map(str::to_string).unwrap_or_else(|| {
            db.message()
                .rsplit(": ")
                .next()
                .unwrap_or("unique")
                .to_string()
        });
        return StoreError::Duplicate(name);
    }
    StoreError::Backend(e.to_string())
}

impl SqlStore {
    /// Opens (creating if needed) and migrates the database at `url`: `sqlite://path` or
    /// `postgres://...`.
    pub async fn open(url: &str) -> Result<SqlStore, StoreError> {
        install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            "sqlite"
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            "postgres"
        } else {
            return Err(StoreError::Backend(
                "database url must start with sqlite:// or postgres://".into(),
            ));
        };
        let options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(30));
        let pool = if backend == "sqlite" {
            private_database_files(url)?;
            options
                .max_connections(1)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        conn.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA secure_delete = ON;")
                            .await?;
                        Ok(())
                    })
                })
                .connect(&with_create_mode(url))
                .await
        } else {
            options.max_connections(16).connect(url).await
        }
        .map_err(db_err)?;
        let migrator = if backend == "sqlite" {
            &SQLITE_MIGRATIONS
        } else {
            &POSTGRES_MIGRATIONS
        };
        migrator
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(format!("migration failed: {e}")))?;
        let store = SqlStore { pool, backend };
        store.place_unplaced_palms().await?;
        Ok(store)
    }

    /// The URL of a SQLite file.
    pub fn sqlite_url(path: &Path) -> String {
        format!("sqlite://{}", path.display())
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// One page of a list, newest first: `select` picks the rows of `owner` (bound as `$1`),
    /// and `id_col` orders them and carries the `starting_after` cursor.
    pub(crate) async fn fetch_page(
        &self,
        select: &str,
        id_col: &str,
        owner: &str,
        page: &palm_service::store::Page,
    ) -> StoreResult<Vec<sqlx::any::AnyRow>> {
        match &page.starting_after {
            Some(after) => q!("{select} AND {id_col} < $2 ORDER BY {id_col} DESC LIMIT $3")
                .bind(owner)
                .bind(after)
                .bind(page.limit),
            None => q!("{select} ORDER BY {id_col} DESC LIMIT $2")
                .bind(owner)
                .bind(page.limit),
        }
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)
    }
}

/// SQLite opens read-write and creates the file unless told otherwise.
/// Creates the SQLite file readable by its owner only (0600) before SQLite opens it, and
/// tightens an existing one: SQLite gives its `-wal` and `-shm` files the database file's mode,
/// so all three stay private.
fn private_database_files(url: &str) -> Result<(), StoreError> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    let fail = |e: std::io::Error| StoreError::Backend(format!("database file {path}: {e}"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(fail)?;
        for suffix in ["", "-wal", "-shm"] {
            let file = format!("{path}{suffix}");
            if Path::new(&file).exists() {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                    .map_err(fail)?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = fail;
    Ok(())
}

fn with_create_mode(url: &str) -> String {
    if url.contains("mode=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> &'static str {
        self.backend
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }
}

/// Reads a column, naming it in the error.
/// A column holding one of an enum's stored names (or a currency code); any other value is a
/// decode error (a row written by code that knew a value this build does not), never a guess.
pub(crate) fn named<T>(
    r: &sqlx::any::AnyRow,
    column: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<T, sqlx::Error> {
    let name: String = col(r, column)?;
    parse(&name).ok_or_else(|| sqlx::Error::ColumnDecode {
        index: column.to_string(),
        source: format!("unknown value {name:?}").into(),
    })
}

/// Every row read with `read`; the first that does not decode fails the whole read.
pub(crate) fn read_rows<T>(
    rows: &[sqlx::any::AnyRow],
    read: fn(&sqlx::any::AnyRow) -> Result<T, sqlx::Error>,
) -> StoreResult<Vec<T>> {
    rows.iter()
        .map(read)
        .collect::<Result<_, _>>()
        .map_err(db_err)
}

/// A column holding a sum of money; a negative one is a decode error.
pub(crate) fn amount(
    r: &sqlx::any::AnyRow,
    column: &str,
) -> Result<palm_service::money::Amount, sqlx::Error> {
    let minor_units: i64 = col(r, column)?;
    palm_service::money::Amount::stored(minor_units).ok_or_else(|| sqlx::Error::ColumnDecode {
        index: column.to_string(),
        source: format!("negative amount {minor_units}").into(),
    })
}

pub(crate) fn col<'r, T>(row: &'r sqlx::any::AnyRow, name: &str) -> Result<T, sqlx::Error>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    use sqlx::Row;
    row.try_get(name)
}

/// A text column read as one of the service's id types (`PersonId`, `PaymentId`).
pub(crate) fn id_col<T: From<String>>(
    row: &sqlx::any::AnyRow,
    name: &str,
) -> Result<T, sqlx::Error> {
    col::<String>(row, name).map(T::from)
}

/// A nullable text column read as one of the service's id types.
pub(crate) fn maybe_id_col<T: From<String>>(
    row: &sqlx::any::AnyRow,
    name: &str,
) -> Result<Option<T>, sqlx::Error> {
    Ok(col::<Option<String>>(row, name)?.map(T::from))
}

/// For test suites that run on PostgreSQL (`PALMLINE_TEST_POSTGRES` names an admin URL): a new,
/// empty database beside the admin one, named with `suffix`; returns its URL. The admin
/// database itself is never migrated.
pub async fn create_test_database(admin_url: &str, suffix: &str) -> StoreResult<String> {
    let name = format!(
        "palmline_test_{}",
        suffix
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_lowercase()
    );
    install_default_drivers();
    let admin = sqlx::AnyPool::connect(admin_url)
        .await
        .map_err(|e| StoreError::Backend(format!("cannot reach the admin database: {e}")))?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .map_err(|e| StoreError::Backend(format!("cannot create {name}: {e}")))?;
    admin.close().await;
    let base = admin_url.rsplit_once('/').map_or(admin_url, |(b, _)| b);
    Ok(format!("{base}/{name}"))
}
