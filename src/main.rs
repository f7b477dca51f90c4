//! The `dl` command line. This is the only place that exits the process
//! (but for an allocation failure, `cli::allocator`).

mod cli;

use clap::{Parser, Subcommand, ValueEnum};
use dl::diagnostic::{Severity, render};
use dl::source::ReadError;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// dl: a language and toolchain for deep-learning models.
#[derive(Parser)]
#[command(name = "dl", version, about)]
struct Cli {
    /// Worker threads for the tensor kernels, 1 to 256 (default: every core).
    #[arg(long, global = true, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=MAX_THREADS))]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse and check a .dl file; print every model's layers, shapes and parameter counts.
    Check {
        /// The program to check.
        file: PathBuf,
        /// List the layers inside sub-models and cells too.
        #[arg(long)]
        expand: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Train the models of a .dl file on their data, as its `train` blocks say.
    Train {
        /// The program to run.
        file: PathBuf,
        /// Run only the K-th `train` block (counting from 1).
        #[arg(long, value_name = "K")]
        run: Option<usize>,
        /// Override the number of epochs of every run.
        #[arg(long, value_name = "N")]
        epochs: Option<i64>,
        /// Print one JSON object per line instead of progress bars and text.
        #[arg(long)]
        json: bool,
        /// Start from these weights (a .safetensors checkpoint) instead of fresh ones.
        #[arg(long, value_name = "W")]
        weights: Option<PathBuf>,
    },
    /// Evaluate trained weights on the test part of a run's data.
    Eval {
        /// The program.
        file: PathBuf,
        /// The weights (a .safetensors checkpoint written by `dl train`).
        #[arg(long, value_name = "W")]
        weights: PathBuf,
        /// Evaluate the K-th `train` block's model (counting from 1).
        #[arg(long, value_name = "K")]
        run: Option<usize>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run trained weights on new samples (CSV, .npy, IDX or images); print or write the predictions.
    Predict {
        /// The program.
        file: PathBuf,
        #[command(flatten)]
        options: cli::predict::PredictOptions,
    },
    /// Write a model to another format: ONNX (opset 17), with trained or initial weights.
    Export {
        /// The program.
        file: PathBuf,
        #[command(flatten)]
        options: cli::export::ExportOptions,
    },
    /// Write text with a character model trained on `text` data.
    Sample {
        /// The `.dl` program.
        file: PathBuf,
        #[command(flatten)]
        options: cli::sample::SampleOptions,
    },
    /// Time training steps of a `train` block's model on synthetic data; print one JSON line.
    Bench {
        /// The program to run.
        file: PathBuf,
        #[command(flatten)]
        options: cli::bench::BenchOptions,
    },
    /// Step through a model's forward pass one layer at a time, interactively.
    Repl {
        /// A program to load first.
        file: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

/// mimalloc, with an allocation failure reported as E0805 (`cli::allocator`).
#[global_allocator]
static ALLOCATOR: cli::allocator::Allocator = cli::allocator::Allocator;

/// Exit codes: 0 success (warnings allowed), 1 errors in the program, 2
/// usage or file errors, 130 training stopped by Ctrl-C or SIGTERM.
fn main() -> ExitCode {
    cli::allocator::configure();
    // A closed stdout (`dl train ... | head`) ends the program as it ends
    // other Unix tools, instead of a panic in the next `println!`.
    // SAFETY: restoring a signal's default action at the start of main,
    // before any other thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    // NOTE: the command runs *on* a worker of the kernels' pool, not on the
    // main thread beside it: a parallel loop started from outside the pool
    // hands its work over and sleeps until it is done, a thread switch per
    // loop that cost a third of a small model's step. The workers get the
    // main thread's usual stack, for the parser's and checker's recursion.
    let mut pool = rayon::ThreadPoolBuilder::new().stack_size(MAIN_STACK_BYTES);
    if let Some(threads) = cli.threads {
        pool = pool.num_threads(threads);
    }
    match pool.build() {
        Ok(pool) => pool.install(|| run(cli.command)),
        Err(e) => {
            eprintln!("error: cannot start the worker threads: {e}");
            ExitCode::from(2)
        }
    }
}

/// The most worker threads `--threads` may ask for. Each has its own stack
/// (below) and joins every parallel loop: thousands of them turn a
/// millisecond's work into seconds and can exhaust memory, while no machine
/// this is for has more cores.
const MAX_THREADS: u64 = 256;

/// The stack of each worker thread, the size Linux gives a main thread.
const MAIN_STACK_BYTES: usize = 8 << 20;

/// Runs one command.
fn run(command: Command) -> ExitCode {
    match command {
        Command::Check {
            file,
            expand,
            format,
        } => check(&file, expand, format),
        Command::Train {
            file,
            run,
            epochs,
            json,
            weights,
        } => {
            let options = cli::train::TrainOptions {
                weights,
                eval_only: false,
                run,
                epochs,
                json,
            };
            with_session(file, |session| cli::train::run(session, &options))
        }
        Command::Eval {
            file,
            weights,
            run,
            json,
        } => {
            let options = cli::train::TrainOptions {
                weights: Some(weights),
                eval_only: true,
                run,
                epochs: None,
                json,
            };
            with_session(file, |session| cli::train::run(session, &options))
        }
        Command::Predict { file, options } => {
            with_session(file, |session| cli::predict::run(session, &options))
        }
        Command::Export { file, options } => {
            with_session(file, |session| cli::export::run(session, &options))
        }
        Command::Sample { file, options } => {
            with_session(file, |session| cli::sample::run(session, &options))
        }
        Command::Bench { file, options } => {
            with_session(file, |session| cli::bench::run(session, &options))
        }
        Command::Repl { file } => ExitCode::from(dl::repl::run(file.as_deref())),
    }
}

/// Opens `file` and runs `command` on it, turning the outcome into an exit code.
fn with_session(
    file: PathBuf,
    command: impl FnOnce(&cli::Session) -> Result<(), cli::Exit>,
) -> ExitCode {
    finish(cli::Session::open(file).and_then(|session| command(&session)))
}

fn check(file: &Path, expand: bool, format: Format) -> ExitCode {
    let (source, program, diagnostics) = match dl::source::read(file) {
        Ok(source) => {
            let (program, mut diagnostics) = dl::check_file(&source);
            if let Some(program) = &program {
                let base_dir = file
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                diagnostics.extend(dl::run::memory_diagnostics(program));
                diagnostics.extend(dl::run::filesystem_diagnostics(program, base_dir));
            }
            (source, program, diagnostics)
        }
        Err(ReadError::NotUtf8 { text, diagnostic }) => (text, None, vec![*diagnostic]),
        Err(ReadError::Io(e)) => {
            eprintln!("error: cannot read {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diagnostics.len() - errors;
    match format {
        Format::Json => {
            let value = dl::report::render_json(program.as_ref(), &diagnostics, &source, expand);
            println!(
                "{}",
                serde_json::to_string_pretty(&value).expect("JSON values always serialize")
            );
        }
        Format::Text => {
            let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            eprint!(
                "{}",
                render(&file.display().to_string(), &source, &diagnostics, color)
            );
            if errors == 0
                && let Some(program) = &program
            {
                print!("{}", dl::report::render_text(program, expand));
            }
            if errors > 0 || warnings > 0 {
                eprintln!(
                    "{}: {errors} error{}, {warnings} warning{}",
                    file.display(),
                    plural(errors),
                    plural(warnings)
                );
            }
        }
    }
    if errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn finish(result: Result<(), cli::Exit>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(cli::Exit::Program) => ExitCode::from(1),
        Err(cli::Exit::Usage) => ExitCode::from(2),
        Err(cli::Exit::Interrupted) => ExitCode::from(130),
    }
}
