//! Startup configuration: `redis-server`-style flags and a redis.conf-style file.
//!
//! The file (first positional argument) takes the same directives as the flags, one per line
//! (`port 6380`, `bind 127.0.0.1 ::1`, `# comments`); flags given on the command line override it.
//! A bad directive or value stops startup with a message naming the file, the line and the
//! directive; nothing here panics on user input.

use std::path::PathBuf;

use clap::Parser;

/// Command-line flags. Every one is optional so that only the flags actually given override the
/// configuration file.
#[derive(Parser, Debug, Default)]
#[command(
    name = "sesame",
    version,
    about = "A Redis-compatible session cache with server-side sliding expiry"
)]
pub struct Flags {
    /// A redis.conf-style configuration file (same directives as the flags).
    pub config_file: Option<PathBuf>,
    /// TCP port (0 = any free port). Default 6379.
    #[arg(long)]
    pub port: Option<u16>,
    /// Addresses to listen on. Default: 127.0.0.1 ::1.
    #[arg(long, num_args = 1..)]
    pub bind: Option<Vec<String>>,
    /// Password clients must give with AUTH or HELLO … AUTH.
    #[arg(long)]
    pub requirepass: Option<String>,
    /// Most clients connected at once. Default 10000.
    #[arg(long)]
    pub maxclients: Option<usize>,
    /// Close a client idle for this many seconds (0 = never). Default 0.
    #[arg(long)]
    pub timeout: Option<u64>,
    /// Number of databases (SELECT 0..N-1). Default 16.
    #[arg(long)]
    pub databases: Option<usize>,
    /// Worker threads. Default: the number of cores.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Lock shards of the keyspace (rounded up to a power of two). Default: a power of two well
    /// above the thread count.
    #[arg(long)]
    pub shards: Option<usize>,
    /// Keys matching this glob pattern (KEYS syntax) slide: a read pushes their deadline out by
    /// their TTL. Repeatable. Default: none (exact Redis semantics).
    #[arg(long = "slide", value_name = "PATTERN")]
    pub slide: Vec<String>,
    /// Absolute lifetime cap of a sliding key, in seconds from its creation (0 = none).
    #[arg(long = "slide-max-lifetime", value_name = "SECONDS")]
    pub slide_max_lifetime: Option<u64>,
    /// Keyspace notification classes, in Redis's letters (e.g. `Ex`). Default: none.
    #[arg(long = "notify-keyspace-events", value_name = "CLASSES")]
    pub notify_keyspace_events: Option<String>,
}

/// The configuration the server starts with.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub port: u16,
    pub bind: Vec<String>,
    pub requirepass: Option<String>,
    pub maxclients: usize,
    pub timeout: u64,
    pub databases: usize,
    pub threads: usize,
    pub shards: usize,
    /// Glob patterns of the keys that slide.
    pub slide: Vec<String>,
    /// Lifetime cap of sliding keys in seconds (0 = none).
    pub slide_max_lifetime: u64,
    /// Enabled keyspace notification classes (see [`super::notify`]).
    pub notify_keyspace_events: u32,
    /// The configuration file it was read from, if any (INFO's `config_file`).
    pub config_file: Option<PathBuf>,
}

/// Most databases accepted (Redis has no hard limit; this bounds memory for the empty parts).
pub const MAX_DATABASES: usize = 1 << 16;

impl Default for Config {
    fn default() -> Config {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        Config {
            port: 6379,
            bind: vec!["127.0.0.1".into(), "::1".into()],
            requirepass: None,
            maxclients: 10000,
            timeout: 0,
            databases: 16,
            threads,
            shards: default_shards(threads),
            slide: Vec::new(),
            slide_max_lifetime: 0,
            notify_keyspace_events: 0,
            config_file: None,
        }
    }
}

/// A power of two well above the thread count, so two threads rarely want the same shard.
pub fn default_shards(threads: usize) -> usize {
    (threads * 16).next_power_of_two().max(16)
}

impl Config {
    /// The configuration from the process's arguments: the file (if given), then the flags.
    pub fn from_args(args: impl IntoIterator<Item = String>) -> Result<Config, String> {
        let flags = Flags::try_parse_from(args).map_err(|e| e.to_string())?;
        Config::from_flags(flags)
    }

    /// The configuration from parsed flags.
    pub fn from_flags(flags: Flags) -> Result<Config, String> {
        let mut config = Config::default();
        let mut shards_given = false;
        if let Some(path) = &flags.config_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read configuration file {}: {e}", path.display()))?;
            shards_given = config.apply_file(&text).map_err(|(line, msg)| {
                format!("configuration file {}, line {line}: {msg}", path.display())
            })?;
            config.config_file = Some(path.clone());
        }
        if let Some(v) = flags.port {
            config.port = v;
        }
        if let Some(v) = flags.bind {
            config.bind = v;
        }
        if let Some(v) = flags.requirepass {
            config.requirepass = Some(v).filter(|p| !p.is_empty());
        }
        if let Some(v) = flags.maxclients {
            config.maxclients = v;
        }
        if let Some(v) = flags.timeout {
            config.timeout = v;
        }
        if let Some(v) = flags.databases {
            config.databases = v;
        }
        if let Some(v) = flags.threads {
            config.threads = v;
            if !shards_given {
                config.shards = default_shards(v);
            }
        }
        if let Some(v) = flags.shards {
            config.shards = v;
        }
        if !flags.slide.is_empty() {
            config.slide = flags.slide;
        }
        if let Some(v) = flags.slide_max_lifetime {
            config.slide_max_lifetime = v;
        }
        if let Some(v) = flags.notify_keyspace_events {
            config.notify_keyspace_events = parse_notify(&v)?;
        }
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        if self.databases == 0 || self.databases > MAX_DATABASES {
            return Err(format!(
                "databases must be between 1 and {MAX_DATABASES}, got {}",
                self.databases
            ));
        }
        if self.maxclients == 0 {
            return Err("maxclients must be at least 1".into());
        }
        if self.threads == 0 || self.threads > 1024 {
            return Err(format!(
                "threads must be between 1 and 1024, got {}",
                self.threads
            ));
        }
        if self.shards == 0 || self.shards > crate::store::MAX_SHARDS {
            return Err(format!(
                "shards must be between 1 and {}, got {}",
                crate::store::MAX_SHARDS,
                self.shards
            ));
        }
        if self.slide_max_lifetime > u64::MAX / 1000 {
            return Err(format!(
                "slide-max-lifetime {} is too large",
                self.slide_max_lifetime
            ));
        }
        if self.bind.is_empty() {
            return Err("bind needs at least one address".into());
        }
        Ok(())
    }

    /// Applies the directives of a configuration file. Returns whether `shards` was set, or the
    /// line number and message of the first bad line.
    pub fn apply_file(&mut self, text: &str) -> Result<bool, (usize, String)> {
        let mut shards_given = false;
        let mut threads_given = false;
        for (n, line) in text.lines().enumerate() {
            let line_no = n + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words = crate::protocol::decode::split_args(&bytes::Bytes::copy_from_slice(
                line.as_bytes(),
            ))
            .map_err(|_| (line_no, "unbalanced quotes".to_string()))?;
            let words: Vec<String> = words
                .iter()
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect();
            let (name, values) = words.split_first().expect("non-empty line has a word");
            let name = name.to_ascii_lowercase();
            self.apply(&name, values).map_err(|msg| (line_no, msg))?;
            shards_given |= name == "shards";
            threads_given |= name == "threads";
        }
        if threads_given && !shards_given {
            self.shards = default_shards(self.threads);
        }
        Ok(shards_given)
    }

    fn apply(&mut self, name: &str, values: &[String]) -> Result<(), String> {
        let one = || -> Result<&String, String> {
            match values {
                [v] => Ok(v),
                _ => Err(format!("'{name}' takes exactly one argument")),
            }
        };
        let number = |v: &String| -> Result<u64, String> {
            v.parse::<u64>().map_err(|_| {
                format!("bad value '{v}' for '{name}': expected a non-negative integer")
            })
        };
        match name {
            "port" => {
                let v = number(one()?)?;
                self.port = u16::try_from(v).map_err(|_| format!("bad value '{v}' for 'port'"))?;
            }
            "bind" => {
                if values.is_empty() {
                    return Err("'bind' needs at least one address".into());
                }
                self.bind = values.to_vec();
            }
            "requirepass" => self.requirepass = Some(one()?.clone()).filter(|p| !p.is_empty()),
            "maxclients" => self.maxclients = number(one()?)? as usize,
            "timeout" => self.timeout = number(one()?)?,
            "databases" => self.databases = number(one()?)? as usize,
            "threads" => self.threads = number(one()?)? as usize,
            "shards" => self.shards = number(one()?)? as usize,
            // Like CONFIG SET slide: one or more patterns; repeated lines add to the list.
            "slide" => self.slide.extend(values.iter().cloned()),
            "slide-max-lifetime" => self.slide_max_lifetime = number(one()?)?,
            "notify-keyspace-events" => self.notify_keyspace_events = parse_notify(one()?)?,
            _ => return Err(format!("unknown directive '{name}'")),
        }
        Ok(())
    }
}

fn parse_notify(value: &str) -> Result<u32, String> {
    super::notify::parse_flags(value).ok_or_else(|| {
        format!(
            "bad value '{value}' for 'notify-keyspace-events': use letters of 'Ag$lshzxeKEtmdn'"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        std::iter::once("sesame")
            .chain(a.iter().copied())
            .map(String::from)
            .collect()
    }

    #[test]
    fn defaults() {
        let c = Config::from_args(args(&[])).unwrap();
        assert_eq!(c.port, 6379);
        assert_eq!(c.bind, vec!["127.0.0.1", "::1"]);
        assert_eq!(c.databases, 16);
        assert_eq!(c.maxclients, 10000);
        assert!(c.shards.is_power_of_two() && c.shards >= c.threads * 8);
    }

    #[test]
    fn flags_override_file() {
        let dir = std::env::temp_dir().join(format!("sesame-conf-{}", std::process::id()));
        std::fs::write(
            &dir,
            "# comment\nport 7000\nbind 127.0.0.1\n databases 4\nrequirepass \"a b\"\n",
        )
        .unwrap();
        let c = Config::from_args(args(&[dir.to_str().unwrap(), "--port", "7001"])).unwrap();
        std::fs::remove_file(&dir).ok();
        assert_eq!(c.port, 7001);
        assert_eq!(c.bind, vec!["127.0.0.1"]);
        assert_eq!(c.databases, 4);
        assert_eq!(c.requirepass.as_deref(), Some("a b"));
    }

    #[test]
    fn bad_file_lines_name_the_line() {
        let mut c = Config::default();
        assert_eq!(
            c.apply_file("port 1\nfrobnicate yes\n"),
            Err((2, "unknown directive 'frobnicate'".into()))
        );
        assert!(c
            .apply_file("port seventy")
            .unwrap_err()
            .1
            .contains("'seventy'"));
        assert!(c.apply_file("port 1 2").is_err());
        assert!(c.apply_file("port 70000").is_err());
    }

    #[test]
    fn bad_flags_are_errors_not_panics() {
        assert!(Config::from_args(args(&["--port", "x"])).is_err());
        assert!(Config::from_args(args(&["--databases", "0"])).is_err());
        assert!(Config::from_args(args(&["/nonexistent/sesame.conf"])).is_err());
    }
}
