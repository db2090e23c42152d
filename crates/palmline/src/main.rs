//! `palmline`: the one binary users run. Each subcommand lives in its own module.

mod bench;
mod bench_grid;
mod bench_identify;
mod bench_pay;
mod bench_serial;
mod crashtest;
mod demo;
mod eval;
mod figures;
mod fuse;
mod grid;
mod identify;
mod inspect;
mod landmarks;
mod merchants;
mod params;
mod plot;
mod policy_cmd;
mod scanner;
mod serve;
mod simulate_store;
mod synth;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "palmline",
    version,
    about = "Open-source pay-by-palm: engine, evaluation and tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Enrol and identify synthetic palms end to end, printing each decision.
    Demo(demo::DemoArgs),
    /// Measure speed: `palmline bench engine`, `palmline bench identify --gallery N`.
    #[command(subcommand)]
    Bench(bench::BenchArgs),
    /// Measure accuracy on palm image sets (or on another matcher's score file).
    Eval(eval::EvalArgs),
    /// Write every stage of the engine for one image, with its quality and any rejection reason.
    Inspect(inspect::InspectArgs),
    /// Find hands and their 21 landmarks in pictures with the learned models (JSON lines).
    Landmarks(landmarks::LandmarksArgs),
    /// Show the open-set thresholds the index uses at given gallery sizes.
    Policy(policy_cmd::PolicyArgs),
    /// Write a synthetic palm set (ROIs or full-hand photos) laid out like the real ones.
    Synth(synth::SynthArgs),
    /// Run the Palmline service: HTTP API on an embedded SQLite file (or PostgreSQL).
    Serve(serve::ServeArgs),
    /// Key custody.
    #[command(subcommand)]
    Keys(serve::KeysArgs),
    /// Merchant onboarding: create (prints its credentials once), list, disable.
    #[command(subcommand)]
    Merchants(merchants::MerchantsArgs),
    /// The scanner device: pair with a till or gate, then pay or pass a gate by palm.
    #[command(subcommand)]
    Scanner(scanner::ScannerArgs),
    /// Simulate a whole deployment and check it: `palmline simulate store` (walk-out shopping).
    #[command(subcommand)]
    Simulate(simulate_store::SimulateArgs),
    /// Print the HTTP API's OpenAPI 3.1 description (what the server serves at /openapi.json).
    Openapi,
    /// Publish the database's palm changes to NATS JetStream, for the matchers of a gallery
    /// spread over machines (a deployment without matchers needs no relay).
    Relay(grid::RelayArgs),
    /// Hold one shard set of the gallery (loaded from the database, kept current from NATS) and
    /// answer the searches a gateway sends it.
    Matcher(grid::MatcherArgs),
    /// Money under `kill -9`: concurrent payments, captures and refunds while the server is
    /// killed and restarted; checks the processor's ledger against the service's records.
    Crashtest(crashtest::CrashTestArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if !matches!(
        cli.command,
        Command::Serve(_) | Command::Scanner(_) | Command::Relay(_) | Command::Matcher(_)
    ) {
        stop_quietly_when_the_reader_leaves();
    }
    match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Landmarks(args) => landmarks::run(args),
        Command::Synth(args) => synth::run(args),
        Command::Policy(args) => policy_cmd::run(args),
        Command::Serve(args) => serve::serve(args),
        Command::Crashtest(args) => crashtest::run(args),
        Command::Relay(args) => grid::relay(args),
        Command::Matcher(args) => grid::matcher(args),
        Command::Openapi => {
            println!("{}", palm_server::openapi::document().to_pretty_json()?);
            Ok(())
        }
        Command::Keys(args) => serve::keys(args),
        Command::Merchants(args) => merchants::run(args),
        Command::Scanner(args) => scanner::run(args),
        Command::Simulate(args) => simulate_store::run(args),
    }
}

/// Rust ignores SIGPIPE, so `palmline eval ... | head` would panic on its next line of output
/// once `head` exits. The commands that print reports die of the signal instead, silently, as
/// Unix tools do. The long-running network commands keep Rust's default: they see broken
/// connections as errors and carry on.
#[allow(unsafe_code)]
fn stop_quietly_when_the_reader_leaves() {
    #[cfg(unix)]
    // SAFETY: restores the default disposition of one signal before any thread is started; no
    // handler runs Rust code.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
