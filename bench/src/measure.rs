//! Running a child process and measuring it: wall time (our own clock), CPU time and peak RSS.
//!
//! Preferred: GNU time (`/usr/bin/time -f '%e %U %S %M'`, Debian package `time`), which reports
//! the child's user/system CPU and maximum resident set size from `wait4`'s rusage. Without it:
//! `/proc/<pid>/status` `VmHWM` and `/proc/<pid>/stat` utime/stime, polled every 2 ms while the
//! child runs (CPU time then misses at most the last poll interval).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};

const GNU_TIME: &str = "/usr/bin/time";

/// How a measurement was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GNU time (rusage of the child).
    GnuTime,
    /// Polling `/proc/<pid>`.
    ProcPoll,
}

impl Method {
    /// The method available on this machine.
    pub fn detect() -> Method {
        let ok = std::process::Command::new(GNU_TIME)
            .args(["-f", "%M", "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            Method::GnuTime
        } else {
            Method::ProcPoll
        }
    }

    /// One line for RESULTS.md.
    pub fn describe(self) -> &'static str {
        match self {
            Method::GnuTime => {
                "`/usr/bin/time -f '%e %U %S %M'` (GNU time: the child's rusage from wait4: user+system CPU, max RSS); wall time from the harness's monotonic clock around the child"
            }
            Method::ProcPoll => {
                "polling `/proc/<pid>/status` (VmHWM) and `/proc/<pid>/stat` (utime+stime) every 2 ms (GNU time not installed); wall time from the harness's monotonic clock"
            }
        }
    }
}

/// A command to measure.
#[derive(Debug, Clone)]
pub struct Cmd {
    /// Program.
    pub program: PathBuf,
    /// Arguments.
    pub args: Vec<String>,
    /// Extra environment.
    pub env: BTreeMap<String, String>,
    /// Environment variables to remove.
    pub env_remove: Vec<String>,
    /// Working directory.
    pub cwd: Option<PathBuf>,
}

impl Cmd {
    /// A command with no extra environment.
    pub fn new(program: impl Into<PathBuf>, args: &[&str]) -> Cmd {
        Cmd {
            program: program.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: BTreeMap::new(),
            env_remove: Vec::new(),
            cwd: None,
        }
    }

    /// The command line as a shell would show it (for the report).
    pub fn display(&self) -> String {
        let mut parts = vec![self.program.display().to_string()];
        parts.extend(self.args.iter().cloned());
        parts.join(" ")
    }
}

/// What one measured run gave.
#[derive(Debug, Clone)]
pub struct Run {
    /// Wall time.
    pub wall: Duration,
    /// User CPU seconds.
    pub user_s: f64,
    /// System CPU seconds.
    pub sys_s: f64,
    /// Peak RSS in KiB.
    pub max_rss_kb: u64,
    /// Exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Standard output (whole).
    pub stdout: String,
    /// Standard error (whole).
    pub stderr: String,
}

impl Run {
    /// User + system CPU seconds.
    pub fn cpu_s(&self) -> f64 {
        self.user_s + self.sys_s
    }
}

/// Runs `cmd` to completion and measures it.
pub async fn run(cmd: &Cmd, method: Method, scratch: &Path) -> Result<Run> {
    match method {
        Method::GnuTime => run_gnu_time(cmd, scratch).await,
        Method::ProcPoll => run_proc_poll(cmd).await,
    }
}

fn base_command(program: &Path, args: &[String], cmd: &Cmd) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(program);
    c.args(args);
    for k in &cmd.env_remove {
        c.env_remove(k);
    }
    c.envs(&cmd.env);
    if let Some(d) = &cmd.cwd {
        c.current_dir(d);
    }
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    c
}

async fn run_gnu_time(cmd: &Cmd, scratch: &Path) -> Result<Run> {
    let out_file = scratch.join(format!(
        "time-{}-{}.txt",
        std::process::id(),
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let mut args = vec![
        "-f".to_string(),
        "%e %U %S %M".to_string(),
        "-o".to_string(),
        out_file.display().to_string(),
        cmd.program.display().to_string(),
    ];
    args.extend(cmd.args.iter().cloned());
    let mut c = base_command(Path::new(GNU_TIME), &args, cmd);
    let start = Instant::now();
    let output = c
        .output()
        .await
        .with_context(|| format!("running {}", cmd.display()))?;
    let wall = start.elapsed();
    let text = std::fs::read_to_string(&out_file)
        .with_context(|| format!("reading GNU time output {}", out_file.display()))?;
    let _ = std::fs::remove_file(&out_file);
    // On a non-zero exit GNU time first writes "Command exited with non-zero status N".
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .ok_or_else(|| anyhow!("GNU time wrote nothing"))?;
    let f: Vec<&str> = last.split_whitespace().collect();
    if f.len() != 4 {
        return Err(anyhow!("unexpected GNU time output: {text:?}"));
    }
    let num = |s: &str| {
        s.parse::<f64>()
            .map_err(|e| anyhow!("GNU time field {s:?}: {e}"))
    };
    Ok(Run {
        wall,
        user_s: num(f[1])?,
        sys_s: num(f[2])?,
        max_rss_kb: num(f[3])? as u64,
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Clock ticks per second of `/proc/<pid>/stat` (USER_HZ; 100 on every Linux ABI in practice).
const USER_HZ: f64 = 100.0;

fn read_proc(pid: u32) -> (Option<u64>, Option<(f64, f64)>) {
    let hwm = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        });
    let cpu = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ut = f.get(11)?.parse::<f64>().ok()?;
            let st = f.get(12)?.parse::<f64>().ok()?;
            Some((ut / USER_HZ, st / USER_HZ))
        });
    (hwm, cpu)
}

async fn run_proc_poll(cmd: &Cmd) -> Result<Run> {
    use tokio::io::AsyncReadExt;
    let mut c = base_command(&cmd.program, &cmd.args, cmd);
    let start = Instant::now();
    let mut child = c
        .spawn()
        .with_context(|| format!("starting {}", cmd.display()))?;
    let pid = child.id().unwrap_or(0);
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let out_task = tokio::spawn(async move {
        let mut buf = Vec::new();
        if let Some(o) = out.as_mut() {
            let _ = o.read_to_end(&mut buf).await;
        }
        buf
    });
    let err_task = tokio::spawn(async move {
        let mut buf = Vec::new();
        if let Some(e) = err.as_mut() {
            let _ = e.read_to_end(&mut buf).await;
        }
        buf
    });
    let (mut hwm, mut cpu) = (0u64, (0.0, 0.0));
    let status = loop {
        let (h, c) = read_proc(pid);
        if let Some(h) = h {
            hwm = hwm.max(h);
        }
        if let Some(c) = c {
            cpu = c;
        }
        tokio::select! {
            s = child.wait() => break s?,
            _ = tokio::time::sleep(Duration::from_millis(2)) => {}
        }
    };
    let wall = start.elapsed();
    let stdout = out_task.await.unwrap_or_default();
    let stderr = err_task.await.unwrap_or_default();
    Ok(Run {
        wall,
        user_s: cpu.0,
        sys_s: cpu.1,
        max_rss_kb: hwm,
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    })
}

/// Median of a non-empty slice of durations (the lower middle for an even count).
pub fn median(v: &[Duration]) -> Duration {
    let mut s = v.to_vec();
    s.sort();
    s.get(s.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or_default()
}

/// Index of the run with the median wall time.
pub fn median_run(runs: &[Run]) -> Option<&Run> {
    let m = median(&runs.iter().map(|r| r.wall).collect::<Vec<_>>());
    runs.iter().find(|r| r.wall == m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn measures_a_real_child() {
        let dir = tempfile::tempdir().unwrap();
        // `sh -c` allocating ~30 MB would be nicer, but any child gives a positive RSS.
        let cmd = Cmd::new("sh", &["-c", "echo hello; echo oops >&2; exit 3"]);
        for method in [Method::detect(), Method::ProcPoll] {
            let r = run(&cmd, method, dir.path()).await.unwrap();
            assert_eq!(r.code, Some(3), "{method:?}");
            assert_eq!(r.stdout.trim(), "hello");
            assert_eq!(r.stderr.trim().lines().last(), Some("oops"));
            assert!(r.wall > Duration::ZERO);
            // `sh` forks and execs: some CPU time, but far less than a second, and never more
            // than the wall time it ran in (one process, one core).
            assert!(r.cpu_s() < 1.0, "{method:?}: {}", r.cpu_s());
            assert!(
                r.cpu_s() <= r.wall.as_secs_f64() + 0.01,
                "{method:?}: cpu {} > wall {:?}",
                r.cpu_s(),
                r.wall
            );
        }
    }

    #[test]
    fn median_picks_the_middle() {
        let ms = |v: u64| Duration::from_millis(v);
        assert_eq!(median(&[ms(5), ms(1), ms(3)]), ms(3));
        assert_eq!(median(&[ms(4), ms(1), ms(3), ms(2)]), ms(2));
    }
}
