//! `dl repl`: step through a model's forward pass one layer at a time.
//!
//! [`command`] parses `:` commands, [`session`] holds the state and answers
//! each input with text, [`cursor`] moves through the forward pass on the
//! interpreter's own [`crate::interp::Stepper`], [`backward`] computes one
//! sample's gradients, [`render`] formats tensors,
//! [`crate::data::npy`] reads `.npy` inputs; [`helper`] completes and continues lines
//! in the terminal. This module and `main.rs` are the only code that prints.

pub mod backward;
pub mod command;
pub mod cursor;
pub mod helper;
pub mod render;
pub mod session;

use helper::{DlHelper, needs_more};
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{CompletionType, Config, Editor};
use session::Session;
use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};

/// Runs the REPL on standard input, after loading `file` if given, and
/// returns the exit code: 0 at the end of input or `:quit`, 2 when `file`
/// cannot be read. Mistakes in the program or in commands are reported and
/// the session goes on.
pub fn run(file: Option<&Path>) -> u8 {
    let interactive = std::io::stdin().is_terminal();
    let color =
        interactive && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut session = Session::new(color);
    if let Some(file) = file {
        match session.load(file) {
            Ok(text) => print!("{text}"),
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        }
    }
    if interactive {
        terminal(session)
    } else {
        script(session)
    }
}

/// Where the history is kept: `$DL_HISTORY`, else `~/.dl_history`.
pub fn history_path() -> Option<PathBuf> {
    std::env::var_os("DL_HISTORY")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".dl_history")))
}

/// The interactive loop on a terminal, with line editing.
fn terminal(mut session: Session) -> u8 {
    let config = Config::builder()
        .completion_type(CompletionType::List)
        .build();
    let mut editor: Editor<DlHelper, FileHistory> = match Editor::with_config(config) {
        Ok(editor) => editor,
        Err(e) => {
            eprintln!("error: cannot start the line editor ({e}); reading lines as they come");
            return script(session);
        }
    };
    editor.set_helper(Some(DlHelper::new(session.names())));
    let history = history_path();
    if let Some(path) = &history {
        // A missing history file is a first session, not an error.
        let _ = editor.load_history(path);
    }
    println!("dl repl: `:help` lists the commands; Ctrl-C cancels a line, Ctrl-D leaves");
    loop {
        match editor.readline("dl> ") {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                    if let Some(path) = &history
                        && let Err(e) = editor.append_history(path)
                    {
                        eprintln!(
                            "warning: cannot write the history to {}: {e}",
                            path.display()
                        );
                    }
                }
                let reply = session.handle(&line);
                print!("{}", reply.text);
                if reply.quit {
                    break;
                }
                if let Some(helper) = editor.helper_mut() {
                    helper.names = session.names();
                }
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("error: {e}");
                break;
            }
        }
    }
    0
}

/// Without a terminal: one input per line (or several lines while a bracket
/// is open), no prompt, no colour, nothing echoed.
fn script(mut session: Session) -> u8 {
    let mut pending = String::new();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if !pending.is_empty() {
            pending.push('\n');
        }
        pending.push_str(&line);
        if needs_more(&pending) {
            continue;
        }
        let reply = session.handle(&std::mem::take(&mut pending));
        print!("{}", reply.text);
        if reply.quit {
            return 0;
        }
    }
    if !pending.trim().is_empty() {
        print!("{}", session.handle(&pending).text);
    }
    0
}
