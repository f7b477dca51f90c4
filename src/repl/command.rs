//! The REPL's `:` commands: their names, help texts, and a pure parser from a
//! line to a [`Command`].

/// One `:` command, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `:help [COMMAND]`
    Help(Option<String>),
    /// `:load FILE`
    Load(String),
    /// `:models`
    Models,
    /// `:use MODEL`
    Use(String),
    /// `:summary`
    Summary,
    /// `:input random [SEED]`, `:input DATA.PART K`, `:input FILE.npy`
    Input(InputSource),
    /// `:weights FILE.safetensors`
    Weights(String),
    /// `:step [N]`
    Step(usize),
    /// `:run`
    Run,
    /// `:back`
    Back,
    /// `:reset`
    Reset,
    /// `:where`
    Where,
    /// `:show [NAME]`
    Show(Option<String>),
    /// `:params [LAYER]`
    Params(Option<String>),
    /// `:break`, `:break LAYER`, `:break nan`, `:break off`
    Break(Option<Breakpoint>),
    /// `:backward`
    Backward,
    /// `:quit`
    Quit,
}

/// Where the model's input comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputSource {
    /// Standard normal values from a seeded RNG.
    Random(u64),
    /// Row `index` of part `part` (`train`, `val` or `test`) of data set `data`.
    Data {
        /// The data set's name.
        data: String,
        /// The part's name.
        part: String,
        /// The row, counting from 0.
        index: usize,
    },
    /// A `.npy` file.
    Npy(String),
}

/// Where `:run` stops.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Breakpoint {
    /// Once this layer has run.
    Layer(String),
    /// Once a layer's output has a NaN or infinite value.
    Nan,
    /// No breakpoints any more.
    Off,
}

/// A command's name, its arguments as written in help, and what it does.
pub struct CommandHelp {
    /// The name without the colon.
    pub name: &'static str,
    /// Its arguments, e.g. `[n]`.
    pub args: &'static str,
    /// One or more sentences.
    pub text: &'static str,
}

/// Every command, in the order `:help` lists them.
pub const COMMANDS: &[CommandHelp] = &[
    CommandHelp {
        name: "help",
        args: "[command]",
        text: "List the commands, or explain one.",
    },
    CommandHelp {
        name: "load",
        args: "FILE",
        text: "Read a .dl file, replacing the definitions typed so far.",
    },
    CommandHelp {
        name: "models",
        args: "",
        text: "List the models and cells, marking the one in use.",
    },
    CommandHelp {
        name: "use",
        args: "MODEL",
        text: "Step through MODEL from now on (fresh parameters from its train block's seed, or 0).",
    },
    CommandHelp {
        name: "summary",
        args: "",
        text: "Print the model's layer table, as `dl check` does.",
    },
    CommandHelp {
        name: "input",
        args: "random [seed] | DATA.PART K | FILE.npy",
        text: "Set the input: standard normal values (seed 0 by default), sample K (from 0) of a data part with its label, or a .npy file (f32 or f64) of the model's input shape.",
    },
    CommandHelp {
        name: "weights",
        args: "FILE.safetensors",
        text: "Load trained weights (a checkpoint written by `dl train`).",
    },
    CommandHelp {
        name: "step",
        args: "[n]",
        text: "Run the next n layers (default 1); print each one's index, path, op, input and output shapes, and statistics of its output.",
    },
    CommandHelp {
        name: "run",
        args: "",
        text: "Run to the end (or to a breakpoint) and print the output; for a classifier, the top classes with their probabilities and the label.",
    },
    CommandHelp {
        name: "back",
        args: "",
        text: "Go back one layer.",
    },
    CommandHelp {
        name: "reset",
        args: "",
        text: "Go back to the start of the forward pass.",
    },
    CommandHelp {
        name: "where",
        args: "",
        text: "Show the layer table with the layers that have run and the next one marked.",
    },
    CommandHelp {
        name: "show",
        args: "[NAME]",
        text: "Print a tensor with its statistics: the latest output, a layer's output, or a parameter (paths may be shortened to a unique suffix, e.g. conv2d_0).",
    },
    CommandHelp {
        name: "params",
        args: "[LAYER]",
        text: "List the parameters (of one layer) with their shapes and statistics.",
    },
    CommandHelp {
        name: "break",
        args: "[LAYER | nan | off]",
        text: "Stop `:run` once LAYER has run, or at the first output with a NaN or infinite value; `off` removes every breakpoint; alone, list them.",
    },
    CommandHelp {
        name: "backward",
        args: "",
        text: "Compute the loss of the input against its label and print each layer's and each parameter's gradient norm.",
    },
    CommandHelp {
        name: "quit",
        args: "",
        text: "Leave (Ctrl-D does too).",
    },
];

/// Parses a line that starts with `:`. The error is a message for the user.
pub fn parse(line: &str) -> Result<Command, String> {
    let line = line.trim();
    let body = line.strip_prefix(':').unwrap_or(line);
    let mut words = body.split_whitespace();
    let name = words.next().unwrap_or("");
    let args: Vec<&str> = words.collect();
    let name = resolve(name)?;
    let command = match (name, args.as_slice()) {
        ("help", []) => Command::Help(None),
        ("help", [topic]) => Command::Help(Some(topic.trim_start_matches(':').to_string())),
        ("load", [file]) => Command::Load(file.to_string()),
        ("models", []) => Command::Models,
        ("use", [model]) => Command::Use(model.to_string()),
        ("summary", []) => Command::Summary,
        ("input", ["random"]) => Command::Input(InputSource::Random(0)),
        ("input", ["random", seed]) => Command::Input(InputSource::Random(number(seed, "seed")?)),
        ("input", [file]) if file.ends_with(".npy") => {
            Command::Input(InputSource::Npy(file.to_string()))
        }
        ("input", [part, index]) => {
            let Some((data, part)) = part.split_once('.') else {
                return Err(format!(
                    "`{part}` is not a data part; write DATA.PART, e.g. digits.test"
                ));
            };
            Command::Input(InputSource::Data {
                data: data.to_string(),
                part: part.to_string(),
                index: number(index, "sample index")?,
            })
        }
        ("weights", [file]) => Command::Weights(file.to_string()),
        ("step", []) => Command::Step(1),
        ("step", [n]) => match number(n, "number of layers")? {
            0 => {
                return Err(
                    "`:step 0` runs nothing; the number of layers must be at least 1".into(),
                );
            }
            n => Command::Step(n),
        },
        ("run", []) => Command::Run,
        ("back", []) => Command::Back,
        ("reset", []) => Command::Reset,
        ("where", []) => Command::Where,
        ("show", []) => Command::Show(None),
        ("show", [target]) => Command::Show(Some(target.to_string())),
        ("params", []) => Command::Params(None),
        ("params", [layer]) => Command::Params(Some(layer.to_string())),
        ("break", []) => Command::Break(None),
        ("break", ["nan"]) => Command::Break(Some(Breakpoint::Nan)),
        ("break", ["off"]) => Command::Break(Some(Breakpoint::Off)),
        ("break", [layer]) => Command::Break(Some(Breakpoint::Layer(layer.to_string()))),
        ("backward", []) => Command::Backward,
        ("quit", []) => Command::Quit,
        (name, _) => {
            let help = COMMANDS
                .iter()
                .find(|c| c.name == name)
                .expect("resolve returns known names");
            return Err(format!("usage: :{} {}", help.name, help.args)
                .trim_end()
                .to_string());
        }
    };
    Ok(command)
}

/// The full name of a command written as `name` (an unambiguous prefix such
/// as `:s` is not accepted, but `:q` is `:quit` and `:h` is `:help`).
fn resolve(name: &str) -> Result<&'static str, String> {
    let alias = match name {
        "q" | "exit" => "quit",
        "h" | "?" => "help",
        other => other,
    };
    if let Some(command) = COMMANDS.iter().find(|c| c.name == alias) {
        return Ok(command.name);
    }
    let suggestion = crate::check::suggest(name, COMMANDS.iter().map(|c| c.name))
        .map(|n| format!("; did you mean `:{n}`?"))
        .unwrap_or_default();
    if name.is_empty() {
        Err("a command name must follow `:`; `:help` lists them".to_string())
    } else {
        Err(format!(
            "unknown command `:{name}`{suggestion} (`:help` lists the commands)"
        ))
    }
}

fn number<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("the {what} must be a whole number, not `{text}`"))
}

/// The help text of one command, or of all of them.
pub fn help(topic: Option<&str>) -> Result<String, String> {
    let line = |c: &CommandHelp| {
        let usage = format!(":{} {}", c.name, c.args);
        let usage = usage.trim_end();
        if usage.len() > 26 {
            format!("  {usage}\n  {:<26} {}\n", "", c.text)
        } else {
            format!("  {usage:<26} {}\n", c.text)
        }
    };
    match topic {
        None => {
            let mut out = String::from("commands:\n");
            for c in COMMANDS {
                out.push_str(&line(c));
            }
            out.push_str(
                "anything else is read as .dl source: a data, model, cell or train item is checked \
                 and added to the program; an unclosed bracket continues on the next line\n",
            );
            Ok(out)
        }
        Some(name) => {
            let name = resolve(name)?;
            let c = COMMANDS
                .iter()
                .find(|c| c.name == name)
                .expect("resolve returns known names");
            Ok(line(c))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!(parse(":step"), Ok(Command::Step(1)));
        assert_eq!(parse("  :step 3 "), Ok(Command::Step(3)));
        assert_eq!(
            parse(":input random"),
            Ok(Command::Input(InputSource::Random(0)))
        );
        assert_eq!(
            parse(":input random 7"),
            Ok(Command::Input(InputSource::Random(7)))
        );
        assert_eq!(
            parse(":input digits.test 12"),
            Ok(Command::Input(InputSource::Data {
                data: "digits".into(),
                part: "test".into(),
                index: 12
            }))
        );
        assert_eq!(
            parse(":input x.npy"),
            Ok(Command::Input(InputSource::Npy("x.npy".into())))
        );
        assert_eq!(
            parse(":break nan"),
            Ok(Command::Break(Some(Breakpoint::Nan)))
        );
        assert_eq!(
            parse(":break relu_0"),
            Ok(Command::Break(Some(Breakpoint::Layer("relu_0".into()))))
        );
        assert_eq!(parse(":break"), Ok(Command::Break(None)));
        assert_eq!(parse(":show"), Ok(Command::Show(None)));
        assert_eq!(parse(":q"), Ok(Command::Quit));
        assert_eq!(parse(":help step"), Ok(Command::Help(Some("step".into()))));
    }

    #[test]
    fn mistakes_are_messages() {
        assert_eq!(
            parse(":stpe"),
            Err(
                "unknown command `:stpe`; did you mean `:step`? (`:help` lists the commands)"
                    .into()
            )
        );
        assert_eq!(
            parse(":step two"),
            Err("the number of layers must be a whole number, not `two`".into())
        );
        assert_eq!(parse(":use"), Err("usage: :use MODEL".into()));
        assert_eq!(parse(":run now"), Err("usage: :run".into()));
        assert!(parse(":input digits 3").unwrap_err().contains("DATA.PART"));
        assert!(parse(":").is_err());
        assert!(parse(":step -1").is_err());
        assert!(parse(":step 0").is_err());
    }

    #[test]
    fn every_command_has_help() {
        for c in COMMANDS {
            let text = help(Some(c.name)).unwrap();
            assert!(text.contains(&format!(":{}", c.name)));
        }
        assert!(help(Some("nope")).is_err());
    }
}
