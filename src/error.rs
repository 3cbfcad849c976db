//! Every error text sesame sends lives here.
//!
//! A [`CmdError`] is a reply, not a failure of the connection: the dispatcher renders it as
//! `-<text>\r\n` and the client goes on. The texts are Redis 7.0's, byte for byte, because client
//! libraries match on them (see `shared/research/session-clients.md` §11.2).

use std::fmt;

use bytes::Bytes;

/// An error reply to one command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CmdError {
    /// `ERR unknown command '<name>', with args beginning with: '<a>' '<b>' `
    UnknownCommand {
        name: Bytes,
        args: Vec<Bytes>,
    },
    /// `ERR unknown subcommand '<sub>'. Try <CMD> HELP.`
    UnknownSubcommand {
        command: String,
        sub: Bytes,
    },
    /// `ERR wrong number of arguments for '<name>' command` (name as in the command table,
    /// `container|sub` for subcommands).
    WrongArity(String),
    WrongType,
    NotInteger,
    NotFloat,
    Syntax,
    Overflow,
    /// `ERR increment would produce NaN or Infinity`
    NanOrInfinity,
    /// `ERR invalid expire time in '<command>' command`
    InvalidExpire(&'static str),
    NoSuchKey,
    DbIndexOutOfRange,
    /// `ERR invalid DB index` — the SELECT-family text for a non-integer index.
    InvalidDbIndex,
    StringTooLong,
    OffsetOutOfRange,
    NoAuth,
    WrongPass,
    /// AUTH sent while no password is configured.
    AuthNotConfigured,
    NoProto,
    MaxClients,
    /// `NOSCRIPT No matching script. Please use EVAL.` (EVALSHA of a script not cached; clients
    /// match the `NOSCRIPT ` prefix and retry with EVAL).
    NoScript,
    /// `BUSY …`: a script has run longer than `busy-reply-threshold` (Redis's `slowevalerr`).
    Busy,
    /// `ERR Protocol error: …` — sent before the connection is closed.
    Protocol(String),
    /// Any other Redis text that belongs to exactly one command; the full text, code included.
    /// Kept for texts too specific to deserve a variant (e.g. `ERR NX and XX, GT or LT options at
    /// the same time are not compatible`).
    Text(&'static str),
    /// A text assembled at run time (e.g. from a configuration parameter name).
    Owned(String),
    /// `ERR Unknown option or number of arguments for CONFIG SET - '<name>'` (the name as the
    /// client sent it).
    ConfigUnknownOption(String),
    /// `ERR CONFIG SET failed (possibly related to argument '<arg>') - <reason>`: a parameter
    /// that cannot be set, or a value it refuses.
    ConfigSetFailed {
        arg: String,
        reason: String,
    },
}

impl CmdError {
    /// The reply bytes after the `-`.
    pub fn to_bytes(&self) -> Bytes {
        Bytes::from(self.to_string())
    }
}

/// Renders an argument for an error text the way Redis does: as a C string (a NUL byte ends it),
/// at most `max` bytes, and CR/LF replaced by spaces so the error stays one protocol line.
fn sanitized(arg: &[u8], max: usize) -> String {
    let arg = arg.split(|&b| b == 0).next().unwrap_or_default();
    let arg = &arg[..arg.len().min(max)];
    String::from_utf8_lossy(arg).replace(['\r', '\n'], " ")
}

impl fmt::Display for CmdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CmdError::UnknownCommand { name, args } => {
                // Redis prints each argument as '<arg>' followed by a space, truncating so that
                // the list stops growing once it reaches 128 bytes.
                let mut list = String::new();
                for arg in args {
                    if list.len() >= 128 {
                        break;
                    }
                    let room = 128 - list.len();
                    list.push('\'');
                    list.push_str(&sanitized(arg, room));
                    list.push_str("' ");
                }
                write!(
                    f,
                    "ERR unknown command '{}', with args beginning with: {}",
                    sanitized(name, 128),
                    list
                )
            }
            CmdError::UnknownSubcommand { command, sub } => write!(
                f,
                "ERR unknown subcommand '{}'. Try {} HELP.",
                sanitized(sub, 128),
                command.to_uppercase()
            ),
            CmdError::WrongArity(name) => {
                write!(f, "ERR wrong number of arguments for '{name}' command")
            }
            CmdError::WrongType => {
                f.write_str("WRONGTYPE Operation against a key holding the wrong kind of value")
            }
            CmdError::NotInteger => f.write_str("ERR value is not an integer or out of range"),
            CmdError::NotFloat => f.write_str("ERR value is not a valid float"),
            CmdError::Syntax => f.write_str("ERR syntax error"),
            CmdError::Overflow => f.write_str("ERR increment or decrement would overflow"),
            CmdError::NanOrInfinity => f.write_str("ERR increment would produce NaN or Infinity"),
            CmdError::InvalidExpire(cmd) => write!(f, "ERR invalid expire time in '{cmd}' command"),
            CmdError::NoSuchKey => f.write_str("ERR no such key"),
            CmdError::DbIndexOutOfRange => f.write_str("ERR DB index is out of range"),
            CmdError::InvalidDbIndex => f.write_str("ERR invalid DB index"),
            CmdError::StringTooLong => {
                f.write_str("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
            }
            CmdError::OffsetOutOfRange => f.write_str("ERR offset is out of range"),
            CmdError::NoAuth => f.write_str("NOAUTH Authentication required."),
            CmdError::WrongPass => {
                f.write_str("WRONGPASS invalid username-password pair or user is disabled.")
            }
            CmdError::AuthNotConfigured => f.write_str(
                "ERR AUTH <password> called without any password configured for the default \
                 user. Are you sure your configuration is correct?",
            ),
            CmdError::NoProto => f.write_str("NOPROTO unsupported protocol version"),
            CmdError::MaxClients => f.write_str("ERR max number of clients reached"),
            CmdError::NoScript => f.write_str("NOSCRIPT No matching script. Please use EVAL."),
            CmdError::Busy => f.write_str(
                "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN \
                 NOSAVE.",
            ),
            CmdError::Protocol(text) => write!(f, "ERR {text}"),
            CmdError::Text(text) => f.write_str(text),
            CmdError::Owned(text) => f.write_str(text),
            CmdError::ConfigUnknownOption(name) => {
                write!(
                    f,
                    "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
                )
            }
            CmdError::ConfigSetFailed { arg, reason } => {
                write!(
                    f,
                    "ERR CONFIG SET failed (possibly related to argument '{arg}') - {reason}"
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_command_quotes_each_argument() {
        let e = CmdError::UnknownCommand {
            name: Bytes::from_static(b"foo"),
            args: vec![Bytes::from_static(b"a"), Bytes::from_static(b"b\r\nc")],
        };
        assert_eq!(
            e.to_string(),
            "ERR unknown command 'foo', with args beginning with: 'a' 'b  c' "
        );
        let none = CmdError::UnknownCommand {
            name: Bytes::from_static(b"x"),
            args: vec![],
        };
        assert_eq!(
            none.to_string(),
            "ERR unknown command 'x', with args beginning with: "
        );
    }

    #[test]
    fn unknown_command_truncates_long_argument_lists() {
        let long = Bytes::from(vec![b'a'; 200]);
        let e = CmdError::UnknownCommand {
            name: Bytes::from_static(b"x"),
            args: vec![long.clone(), long],
        };
        let text = e.to_string();
        let list = text.split_once("beginning with: ").unwrap().1;
        assert_eq!(list, format!("'{}' ", "a".repeat(128)));
    }

    #[test]
    fn subcommand_texts() {
        let e = CmdError::UnknownSubcommand {
            command: "client".into(),
            sub: Bytes::from_static(b"x"),
        };
        assert_eq!(
            e.to_string(),
            "ERR unknown subcommand 'x'. Try CLIENT HELP."
        );
        assert_eq!(
            CmdError::WrongArity("client|setname".into()).to_string(),
            "ERR wrong number of arguments for 'client|setname' command"
        );
    }
}
