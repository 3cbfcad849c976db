//! The `sesame` binary: configuration, listeners, runtime, signals.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use clap::Parser;
use sesame::server::config::Flags;
use sesame::server::{self, Config};

fn main() -> ExitCode {
    let flags = match Flags::try_parse() {
        Ok(flags) => flags,
        Err(e) => {
            // --help and --version arrive here too: clap knows which exit code each deserves.
            let _ = e.print();
            return ExitCode::from(e.exit_code() as u8);
        }
    };
    let config = match Config::from_flags(flags) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("{}", msg.trim_end());
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.threads)
        .thread_name("sesame-worker")
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let listeners = match bind_all(&config).await {
            Ok(l) => l,
            Err(msg) => {
                eprintln!("{msg}");
                return ExitCode::FAILURE;
            }
        };
        server::run(listeners, config, shutdown_signal()).await;
        ExitCode::SUCCESS
    })
}

/// Binds every configured address. An address whose family the machine lacks (such as ::1
/// without IPv6) is skipped with a warning; failing to bind anything is an error. With port 0
/// the first address picks a free port and the others use the same one.
async fn bind_all(config: &Config) -> Result<Vec<tokio::net::TcpListener>, String> {
    let mut listeners = Vec::new();
    let mut port = config.port;
    for addr in &config.bind {
        let ip: IpAddr = match addr.trim_start_matches('-').parse() {
            Ok(ip) => ip,
            Err(_) => return Err(format!("bad bind address '{addr}'")),
        };
        match tokio::net::TcpListener::bind(SocketAddr::new(ip, port)).await {
            Ok(listener) => {
                let local = listener.local_addr().map_err(|e| e.to_string())?;
                port = local.port();
                println!("listening on {local}");
                listeners.push(listener);
            }
            Err(e) if is_missing_family(&e) => {
                eprintln!("warning: skipping bind address {addr}: {e}");
            }
            Err(e) => return Err(format!("cannot listen on {addr} port {port}: {e}")),
        }
    }
    if listeners.is_empty() {
        return Err("no address could be bound".into());
    }
    Ok(listeners)
}

fn is_missing_family(e: &std::io::Error) -> bool {
    // EADDRNOTAVAIL (99) and EAFNOSUPPORT (97) on Linux: the address family is not configured.
    matches!(e.kind(), std::io::ErrorKind::AddrNotAvailable)
        || matches!(e.raw_os_error(), Some(97 | 99))
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
