//! `palmline serve` and `palmline keys ...`: the service and its key custody.

use anyhow::{Context, Result};
use palm_server::{Config, Server};
use std::path::PathBuf;
use std::sync::Arc;

/// Where the configuration comes from; flags override the file and the environment.
#[derive(clap::Args, Clone)]
pub struct ConfigArgs {
    /// TOML configuration file (default: ./palmline.toml when present).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Data directory: SQLite file, keys, demo credentials (default ./palmline-data).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Database URL: sqlite://FILE or postgres://USER@HOST/DB (default: SQLite in the data dir).
    #[arg(long)]
    pub database: Option<String>,
}

impl ConfigArgs {
    pub fn load(&self) -> Result<Config> {
        let mut c = Config::load(self.config.as_deref()).map_err(anyhow::Error::msg)?;
        if let Some(d) = &self.data_dir {
            c.data_dir = d.clone();
        }
        if let Some(db) = &self.database {
            c.database = Some(db.clone());
        }
        Ok(c)
    }
}

#[derive(clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long)]
    pub listen: Option<String>,
    /// Do not create the demo merchant on a fresh database.
    #[arg(long)]
    pub no_demo: bool,
    /// Search palms through matcher processes reached at this NATS server (the distributed
    /// mode; with --grid-sets) instead of an index in this process. Palms reach the matchers
    /// from the database's palm feed through `palmline relay`.
    #[arg(long, requires = "grid_sets")]
    pub nats: Option<String>,
    /// The shard sets whose matchers together hold every virtual shard, e.g. a,b (as their
    /// `palmline matcher --set` names them). A search asks every set and decides only when all
    /// answered.
    #[arg(long, requires = "nats", value_delimiter = ',')]
    pub grid_sets: Vec<String>,
}

#[derive(clap::Subcommand)]
pub enum KeysArgs {
    /// Make a new master key active and rewrap every data key under it (the server may keep
    /// running); the old master keys are then retired.
    Rotate(ConfigArgs),
    /// Start a new template-protection transform. At their next start, servers protect every
    /// palm under it and destroy the old transform key, so old templates (in backups, say) can
    /// no longer be linked to the new ones. Restart every server after running this.
    RenewTransform(ConfigArgs),
    /// Make a new capture key current (devices fetch it from GET /v1/capture_keys); captures
    /// sealed to the old one are still opened for `capture_key_overlap_s`, then refused.
    RotateCapture(ConfigArgs),
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub fn serve(args: ServeArgs) -> Result<()> {
    let mut config = args.config.load()?;
    if let Some(l) = args.listen {
        config.listen = l;
    }
    if args.no_demo {
        config.demo = false;
    }
    palm_server::init_logging(&config.log_format);
    runtime()?.block_on(async {
        // Listen for signals before anything is printed: whoever reads "serving on" may stop the
        // server at once, and a SIGTERM that arrives before the handler exists kills the process
        // without its graceful shutdown.
        let stop = shutdown_signal()?;
        let remote = match &args.nats {
            Some(url) => Some(gateway(&config, url, &args.grid_sets).await?),
            None => None,
        };
        let distributed = remote.is_some();
        let server =
            Server::start_with(&config, Arc::new(palm_service::SystemClock), remote).await?;
        if server.demo.is_some() {
            let dir = config.data_dir.join("accuracy");
            if let Err(e) = tokio::task::spawn_blocking(move || first_accuracy_report(&dir)).await? {
                eprintln!("warning: the first accuracy report could not be made: {e:#}");
            }
        }
        println!("Palmline is serving on http://{}", server.addr);
        if distributed {
            println!(
                "  database: {}, palms searched by the matchers of sets {}",
                server.service.store().backend(),
                args.grid_sets.join(",")
            );
        } else {
            println!(
                "  database: {}, {} palms enrolled",
                server.service.store().backend(),
                server.service.palms()
            );
        }
        println!("  API: http://{}/openapi.json", server.addr);
        if let Some(demo) = &server.demo {
            println!("  demo merchant API key: {}", demo.api_key);
            for t in &demo.tills {
                println!("  {} ({}): till credential {}", t.name, t.id, t.credential);
            }
            if let Some(g) = &demo.gate {
                println!(
                    "  {} ({}): gate credential {}, event {} (open for a year; give people passes on the merchant screen)",
                    g.name, g.id, g.credential, g.event
                );
            }
            if let Some(t) = demo.tills.first() {
                let gate = demo.gate.as_ref().map_or(String::new(), |g| {
                    format!("&gate={}&event={}", g.credential, g.event)
                });
                println!(
                    "  kiosk and POS screens: http://{}/#key={}&till={}&till_id={}{gate}",
                    server.addr, demo.api_key, t.credential, t.id
                );
            }
            println!(
                "  next: open the kiosk link; make palm photos to sign up with: palmline synth --out palms --palms 1 --captures 5;"
            );
            println!("    the first payment step by step: docs/first-payment.md");
            println!("  test cards: 4242 4242 4242 4242 approves; 4000 0000 0000 0002 declines;");
            println!("    4000 0000 0000 9995 insufficient funds; 4000 0000 0000 0069 expired;");
            println!("    4000 0000 0000 0119 processing error (any future expiry); these are refused");
            println!("    at sign-up; 4000 0000 0000 0341 signs up, then is declined at the till");
        }
        println!("Stop with Ctrl-C; requests in flight finish first.");
        stop.await;
        eprintln!("shutting down...");
        server.shutdown().await;
        Ok(())
    })
}

/// The merchant dashboard's accuracy section is never empty: on a demo's first start, when no
/// report is there, `palmline eval` measures 20 synthetic palms (under a second) and leaves its
/// report where `palmline eval SET... --report <data_dir>/accuracy` on real photos replaces it.
/// Run as child processes of this binary, so their output does not mix with the server's.
fn first_accuracy_report(dir: &std::path::Path) -> Result<()> {
    if dir.join("report.jsonl").exists() {
        return Ok(());
    }
    let work = tempfile::tempdir().context("no temporary folder")?;
    let palms = work.path().join("synthetic-palms");
    let exe = std::env::current_exe().context("cannot find this program")?;
    let run = |args: &[&std::ffi::OsStr]| -> Result<()> {
        let status = std::process::Command::new(&exe)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()?;
        anyhow::ensure!(status.success(), "{:?} failed ({status})", args[0]);
        Ok(())
    };
    run(&[
        "synth".as_ref(),
        "--out".as_ref(),
        palms.as_os_str(),
        "--palms".as_ref(),
        "20".as_ref(),
        "--captures".as_ref(),
        "4".as_ref(),
    ])?;
    run(&[
        "eval".as_ref(),
        palms.as_os_str(),
        "--report".as_ref(),
        dir.as_os_str(),
    ])
}

/// Registers the Ctrl-C and SIGTERM handlers now and returns a future that ends on either.
pub(crate) fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    #[cfg(unix)]
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("cannot listen for SIGINT")?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = term.recv() => {}
            _ = interrupt.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    })
}

pub fn keys(args: KeysArgs) -> Result<()> {
    let c = match args {
        KeysArgs::Rotate(c) => c,
        KeysArgs::RotateCapture(c) => {
            let config = c.load()?;
            let now = palm_service::Clock::now_s(&palm_service::SystemClock);
            let id = palm_server::keys::rotate_capture(&config.data_dir, now)?;
            println!(
                "capture key {id} is current; older keys open captures for {} more seconds",
                config.capture_key_overlap_s
            );
            return Ok(());
        }
        KeysArgs::RenewTransform(c) => {
            let config = c.load()?;
            let id = palm_server::keys::renew_transform(&config.data_dir)?;
            println!(
                "transform {id} written; restart the server(s): the next start renews every palm under it"
            );
            return Ok(());
        }
    };
    let config = c.load()?;
    runtime()?.block_on(async {
        let store = palm_store::SqlStore::open(&config.database_url())
            .await
            .context("cannot open the database")?;
        let report = palm_server::keys::rotate(&config.data_dir, &store).await?;
        println!(
            "master key {} is active; rewrapped {} people, {} webhook endpoints and {} stored answers; retired {:?}",
            report.new_master,
            report.people_rewrapped,
            report.endpoints_rewrapped,
            report.answers_rewrapped,
            report.retired
        );
        Ok(())
    })
}

/// The gateway `palmline serve --nats URL --grid-sets a,b` searches through: probes sealed
/// under the grid's probe key from the shared key folder.
async fn gateway(
    config: &palm_server::Config,
    nats: &str,
    sets: &[String],
) -> Result<Arc<dyn palm_service::RemoteGallery>> {
    for set in sets {
        palm_grid::check_set_name(set).context("--grid-sets")?;
    }
    anyhow::ensure!(!sets.is_empty(), "--grid-sets names no set");
    let (keys, _) = palm_server::keys::DataDirKeys::open(&config.data_dir)
        .context("cannot open the key folder")?;
    let probe_key = Arc::new(keys.grid_probe_key()?);
    let client = palm_grid::connect_client(nats)
        .await
        .with_context(|| format!("cannot reach NATS at {nats}"))?;
    Ok(Arc::new(palm_grid::gateway::Gateway::new(
        client,
        sets.to_vec(),
        probe_key,
    )))
}
