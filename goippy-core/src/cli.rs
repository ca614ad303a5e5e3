//! The `goippy` command line.
//!
//! One binary serves the operator's whole life cycle — write a sample
//! configuration, check it, manage the gateways, run the daemon — with the
//! flags the original goippy users already know. Flags that belong to later
//! features are added with them: nothing here prints a fake answer.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use clap::{ArgAction, ArgGroup, Parser};

pub(crate) mod admin;
mod password;

pub use admin::{AdminCommand, run_admin};
pub use password::{READ_PASSWORD, read_password};

use crate::config::{self, Config, DEFAULT_CONFIG_PATH, DEFAULT_SAMPLE_PATH, STATE_DIR};
use crate::store::StoreError;
use crate::systemd::{
    DEFAULT_ETC_DIR, DEFAULT_SYSTEMCTL, DEFAULT_SYSTEMD_RUN_DIR, DEFAULT_UNIT_DIR, DEFAULT_USERADD,
    Host, InstanceName, OpsCommand,
};

const EXAMPLES: &str = "\
Examples:
  goippy --sample                    write /etc/goippy.conf.sample (and /etc/goippy.conf if missing)
  goippy --sample /tmp/goippy.conf   write a sample configuration to /tmp/goippy.conf
  goippy --check /etc/goippy.conf    validate a configuration and print the effective settings
  goippy /etc/goippy-2508.conf       run the daemon with an explicit configuration
  goippy -v                          run with /etc/goippy.conf and debug logging

Gateways (one per extension; a running goippy picks changes up within seconds):
  goippy --add 2001                  extension 2001, GoIP SMS Client ID goippy_2001, any destination;
                                     the password is asked for without echo (or read from stdin)
  goippy --add 2508 - 1 < pw.txt     the same for 2508, the password read from a file, noting that
                                     the channel is the GoIP's line 1 (CH1)
  goippy --add 2001 - - '^\\+372' --goip-id gw1_ch1
                                     SMS Client ID gw1_ch1; only numbers beginning with +372 (the
                                     regex is searched, anchored where it says; --add shows which
                                     sample numbers it allows). --add writes the whole definition:
                                     what it is not given, on an update too, gets its default
  goippy --add 2001 s3cret           the password as an argument still works, but stays in the
                                     shell history and shows in ps
  goippy --listExt                   list extensions, channels, numbers and when last seen
  goippy --disable 2001              refuse the channel without forgetting it (--enable undoes it)
  goippy --remove 2001 -c /etc/goippy-2.conf
                                     remove it, using another configuration's database

Several lines per extension, lines shared by a team:
  goippy --add-line 2001 goippy_2001b - 2
                                     a second line for 2001 (its line 2), the password read as
                                     --add reads it, on the GoIP's channel 2
  goippy --add-line 2002 goippy_2001b
                                     extension 2002 shares that line (its SMS go to both)
  goippy --daily-limit goippy_2001b 100
                                     at most 100 SMS per day (UTC) from that line (\"-\": no limit)
  goippy --failover 2001 on          an SMS line 1 cannot send goes out on another of 2001's lines
  goippy --remove-line 2002 goippy_2001b
                                     2002 no longer shares it

systemd services (one per extension; run as root):
  goippy --install                   goippy.service running /etc/goippy.conf
  goippy --install 2508              goippy-2508.service running /etc/goippy-2508.conf
                                     (created from /etc/goippy.conf, with its own database)
  goippy --list                      instances, their state, and whether their configuration loads
  goippy --uninstall 2508            stop and remove goippy-2508 and /etc/goippy-2508.conf
  goippy --uninstall default         stop and remove goippy.service (/etc/goippy.conf is kept)

Logging: -v (goippy's debug lines), -vv (goippy's trace), -q (warnings), -qq (errors).
Without them, RUST_LOG (a tracing filter such as \"debug\", which includes every library's
debug output, or \"info,sqlx=debug\") and then the configuration's LOG_LEVEL apply; the
default is info. Colours only on a terminal; under systemd, plain lines for journald.";

/// goippy: a bridge between GoIP GSM gateways and XMPP (SMS, USSD, call log).
#[derive(Debug, Parser)]
#[command(name = "goippy", version, after_help = EXAMPLES)]
#[command(group(ArgGroup::new("admin").args(["add", "remove", "list_ext", "enable", "disable",
    "add_line", "remove_line", "daily_limit", "failover"])))]
#[command(group(ArgGroup::new("ops").args(["install", "list", "uninstall"])
    .conflicts_with_all(["sample", "check", "config", "config_flag", "admin"])))]
pub struct Cli {
    /// Configuration file [default: /etc/goippy.conf]
    #[arg(value_name = "CONFIG")]
    pub config: Option<PathBuf>,

    /// Configuration file (the same as the positional CONFIG)
    #[arg(
        short = 'c',
        long = "config",
        value_name = "CONFIG",
        conflicts_with = "config"
    )]
    pub config_flag: Option<PathBuf>,

    /// Write a commented sample configuration and exit; never overwrites a file.
    /// Without PATH: /etc/goippy.conf.sample, and /etc/goippy.conf when it does not exist yet
    #[arg(long, value_name = "PATH", num_args = 0..=1, default_missing_value = DEFAULT_SAMPLE_PATH,
          conflicts_with_all = ["check", "config", "config_flag", "admin"])]
    pub sample: Option<PathBuf>,

    /// Validate the configuration, print the effective settings (secrets masked) and exit;
    /// exits non-zero on any error
    #[arg(long, conflicts_with = "admin")]
    pub check: bool,

    /// Create or update the gateway of extension EXT and enable it. PASS is the
    /// channel's GoIP password; "-" or nothing reads it from standard input, or asks for
    /// it without echo on a terminal (an argument shows in ps and the shell history).
    /// CHANNEL is the GoIP line number it is configured on, 1-999 ("-" or nothing:
    /// none); ALLOW_REGEX limits outbound destinations to the numbers it is found in,
    /// anchored where it says ("^\+372": numbers beginning with +372; nothing: any
    /// destination). The channel's SMS Client ID is goippy_EXT unless --goip-id gives
    /// another. Each --add writes the whole definition: on an update too, what it is
    /// not given (the channel, --goip-id, ALLOW_REGEX) gets its default
    #[arg(long, num_args = 1..=4, value_names = ["EXT", "PASS|-", "CHANNEL|-", "ALLOW_REGEX"])]
    pub add: Option<Vec<String>>,

    /// With --add: the channel's GoIP "SMS Client ID" when it is not goippy_EXT
    // `requires` alone lets it through beside another command that conflicts
    // with --add (clap then counts --add as rightly absent), hence the list.
    #[arg(long = "goip-id", value_name = "ID", requires = "add",
          conflicts_with_all = ["remove", "list_ext", "enable", "disable", "sample", "check",
                                "install", "list", "uninstall", "add_line", "remove_line",
                                "daily_limit", "failover"])]
    pub goip_id: Option<String>,

    /// Remove the gateway of extension EXT (its history stays)
    #[arg(long, value_name = "EXT")]
    pub remove: Option<String>,

    /// List the gateways: extension, GoIP id, channel, number, enabled, allow_regex, last seen
    // COMPAT: `--listExt` is the original goippy's camel-case spelling, which
    // its operators' scripts and habits use; `--list-ext` is the house style.
    // It can go only in a release that retires the original's CLI, with notice.
    #[arg(long = "listExt", visible_alias = "list-ext")]
    pub list_ext: bool,

    /// Accept the channel of extension EXT again
    #[arg(long, value_name = "EXT")]
    pub enable: Option<String>,

    /// Refuse the channel of extension EXT, keeping its definition
    #[arg(long, value_name = "EXT")]
    pub disable: Option<String>,

    /// Give extension EXT a further line (its line 2, 3, ...): the line GOIP_ID. A
    /// GOIP_ID no gateway has yet becomes a new line, with PASS ("-" or nothing: read
    /// as --add reads it), CHANNEL and ALLOW_REGEX as for --add; an existing one (another
    /// extension's line, a team's shared line) is shared, and then nothing but EXT and
    /// GOIP_ID may be given
    #[arg(long = "add-line", num_args = 2..=5,
          value_names = ["EXT", "GOIP_ID", "PASS|-", "CHANNEL|-", "ALLOW_REGEX"])]
    pub add_line: Option<Vec<String>>,

    /// Take line GOIP_ID from extension EXT (not its default line: that is --remove);
    /// a shared line whose last user goes is removed (its history stays)
    #[arg(long = "remove-line", num_args = 2, value_names = ["EXT", "GOIP_ID"])]
    pub remove_line: Option<Vec<String>>,

    /// Let line GOIP_ID send at most N SMS per day (UTC); "-" lifts the limit
    #[arg(long = "daily-limit", num_args = 2, value_names = ["GOIP_ID", "N|-"])]
    pub daily_limit: Option<Vec<String>>,

    /// Whether an SMS of extension EXT that its chosen line cannot send (offline, at its
    /// daily limit, refused by the GoIP) goes out on another of its lines (default off)
    #[arg(long, num_args = 2, value_names = ["EXT", "on|off"])]
    pub failover: Option<Vec<String>>,

    /// Install and start the systemd service: without NAME the main instance
    /// (goippy.service, /etc/goippy.conf); with NAME the instance goippy-NAME.service
    /// running /etc/goippy-NAME.conf, created from /etc/goippy.conf when missing
    #[arg(long, value_name = "NAME", num_args = 0..=1)]
    pub install: Option<Option<InstanceName>>,

    /// List the installed instances: unit, active state, configuration, and
    /// whether the configuration loads
    #[arg(long)]
    pub list: bool,

    /// Stop, disable and remove the instance NAME ("default": the main instance,
    /// whose /etc/goippy.conf is kept; otherwise /etc/goippy-NAME.conf is removed too)
    #[arg(long, value_name = "NAME")]
    pub uninstall: Option<InstanceName>,

    /// Directory of the configurations (and of the passwd file the service user is looked up in)
    #[arg(long, value_name = "DIR", env = "GOIPPY_ETC_DIR", default_value = DEFAULT_ETC_DIR,
          help_heading = "Service installation")]
    pub etc_dir: PathBuf,

    /// Directory the unit files are written to
    #[arg(long, value_name = "DIR", env = "GOIPPY_UNIT_DIR", default_value = DEFAULT_UNIT_DIR,
          help_heading = "Service installation")]
    pub unit_dir: PathBuf,

    /// The systemctl program
    #[arg(long, value_name = "PROGRAM", env = "GOIPPY_SYSTEMCTL", default_value = DEFAULT_SYSTEMCTL,
          help_heading = "Service installation")]
    pub systemctl: PathBuf,

    /// systemd counts as running when this directory exists; otherwise the
    /// systemctl commands are printed for the operator instead of run
    #[arg(long, value_name = "DIR", env = "GOIPPY_SYSTEMD_RUN_DIR",
          default_value = DEFAULT_SYSTEMD_RUN_DIR, help_heading = "Service installation")]
    pub systemd_run_dir: PathBuf,

    /// The program that creates the goippy system user when it is missing
    #[arg(long, value_name = "PROGRAM", env = "GOIPPY_USERADD", default_value = DEFAULT_USERADD,
          help_heading = "Service installation")]
    pub useradd: PathBuf,

    /// Where the units' StateDirectory=goippy is, for what --install checks
    /// in it (a staging root's; the unit always uses /var/lib/goippy)
    #[arg(long, value_name = "DIR", env = "GOIPPY_STATE_DIR", default_value = STATE_DIR,
          help_heading = "Service installation")]
    pub state_dir: PathBuf,

    /// More log output: -v goippy's debug lines, -vv its trace (RUST_LOG reaches the libraries)
    #[arg(short, long, action = ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Less log output (-q warnings, -qq errors only)
    #[arg(short, long, action = ArgAction::Count)]
    pub quiet: u8,
}

impl Cli {
    /// The configuration file to use.
    pub fn config_path(&self) -> PathBuf {
        self.config
            .clone()
            .or_else(|| self.config_flag.clone())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_PATH))
    }

    /// The gateway admin command given, if any, or why its values are
    /// wrong. When `--add` is to read its password
    /// ([`Cli::add_reads_password`]), the password is empty here:
    /// [`read_password`] supplies it.
    pub fn admin_command(&self) -> Result<Option<AdminCommand>, StoreError> {
        let nth = |values: &Vec<String>, i: usize| values.get(i).cloned().unwrap_or_default();
        // A password of "-" is read, as is one not given.
        let password =
            |values: &Vec<String>, i: usize| values.get(i).filter(|p| *p != READ_PASSWORD).cloned();
        let command = if let Some(values) = &self.add {
            AdminCommand::Add {
                ext: nth(values, 0),
                password: password(values, 1).unwrap_or_default(),
                channel: values.get(2).cloned(),
                goip_id: self.goip_id.clone(),
                allow_regex: values.get(3).cloned(),
            }
        } else if let Some(ext) = &self.remove {
            AdminCommand::Remove { ext: ext.clone() }
        } else if self.list_ext {
            AdminCommand::List
        } else if let Some(ext) = &self.enable {
            AdminCommand::Enable { ext: ext.clone() }
        } else if let Some(values) = &self.add_line {
            AdminCommand::AddLine {
                ext: nth(values, 0),
                goip_id: nth(values, 1),
                password: password(values, 2),
                channel: values.get(3).cloned(),
                allow_regex: values.get(4).cloned(),
            }
        } else if let Some(values) = &self.remove_line {
            AdminCommand::RemoveLine {
                ext: nth(values, 0),
                goip_id: nth(values, 1),
            }
        } else if let Some(values) = &self.daily_limit {
            AdminCommand::DailyLimit {
                goip_id: nth(values, 0),
                limit: admin::limit_arg(&nth(values, 1))?,
            }
        } else if let Some(values) = &self.failover {
            AdminCommand::Failover {
                ext: nth(values, 0),
                on: admin::on_off_arg(&nth(values, 1))?,
            }
        } else if let Some(ext) = &self.disable {
            AdminCommand::Disable { ext: ext.clone() }
        } else {
            return Ok(None);
        };
        Ok(Some(command))
    }

    /// Whether `--add` was given no password, or `-`: then it is read from
    /// standard input or a prompt ([`read_password`]).
    pub fn add_reads_password(&self) -> bool {
        self.add
            .as_ref()
            .is_some_and(|values| values.get(1).is_none_or(|p| p == READ_PASSWORD))
    }

    /// The systemd service command given, if any.
    pub fn ops_command(&self) -> Option<OpsCommand> {
        if let Some(name) = &self.install {
            return Some(OpsCommand::Install(
                name.clone().unwrap_or(InstanceName::Main),
            ));
        }
        if self.list {
            return Some(OpsCommand::List);
        }
        self.uninstall.clone().map(OpsCommand::Uninstall)
    }

    /// The directories and programs the service commands use.
    pub fn ops_host(&self) -> Host {
        Host::new(
            &self.etc_dir,
            &self.unit_dir,
            &self.systemctl,
            &self.systemd_run_dir,
            &self.useradd,
            &self.state_dir,
        )
    }

    /// -v minus -q: positive is chattier.
    pub fn verbosity(&self) -> i8 {
        self.verbose.min(2) as i8 - self.quiet.min(2) as i8
    }
}

/// What `--sample` did, for the caller to print.
#[derive(Debug, PartialEq, Eq)]
pub enum SampleOutcome {
    Written(PathBuf),
    KeptExisting(PathBuf),
}

/// Writes the sample to `path` unless something is there already. With the
/// default path it also creates the live configuration when it is missing.
pub fn write_sample(path: &Path) -> io::Result<Vec<SampleOutcome>> {
    let mut outcomes = vec![write_new(path, config::SAMPLE)?];
    if path == Path::new(DEFAULT_SAMPLE_PATH) {
        outcomes.push(write_new(Path::new(DEFAULT_CONFIG_PATH), config::SAMPLE)?);
    }
    Ok(outcomes)
}

/// Creates `path` with `text`, mode 0600 (it will hold secrets); an existing
/// file is left exactly as it is.
fn write_new(path: &Path, text: &str) -> io::Result<SampleOutcome> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    match file {
        Ok(mut f) => {
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            Ok(SampleOutcome::Written(path.to_path_buf()))
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            Ok(SampleOutcome::KeptExisting(path.to_path_buf()))
        }
        Err(e) => Err(io::Error::new(
            e.kind(),
            format!("cannot write {}: {e}", path.display()),
        )),
    }
}

/// `--check`: the report printed on success, or the error (which carries
/// the warnings too).
pub fn check(path: &Path) -> Result<String, config::ConfigError> {
    let (config, warnings) = Config::load(path)?;
    let mut out = String::new();
    for w in &warnings {
        out.push_str(&format!("warning: {}: {w}\n", path.display()));
    }
    let see = match warnings.len() {
        0 => String::new(),
        1 => ", but see the warning above".to_string(),
        n => format!(", but see the {n} warnings above"),
    };
    out.push_str(&format!("{}: OK{see}\n", path.display()));
    out.push_str(&config.effective_settings());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn sample_and_config_forms() {
        let cli = Cli::try_parse_from(["goippy", "--sample", "/tmp/x.conf"]).expect("parses");
        assert_eq!(cli.sample.as_deref(), Some(Path::new("/tmp/x.conf")));
        let cli = Cli::try_parse_from(["goippy", "--sample"]).expect("parses");
        assert_eq!(cli.sample.as_deref(), Some(Path::new(DEFAULT_SAMPLE_PATH)));
        let cli = Cli::try_parse_from(["goippy", "--check", "/tmp/x.conf"]).expect("parses");
        assert!(cli.check);
        assert_eq!(cli.config_path(), PathBuf::from("/tmp/x.conf"));
        let cli = Cli::try_parse_from(["goippy", "-c", "/tmp/y.conf", "-vv"]).expect("parses");
        assert_eq!(cli.config_path(), PathBuf::from("/tmp/y.conf"));
        assert_eq!(cli.verbosity(), 2);
        let cli = Cli::try_parse_from(["goippy"]).expect("parses");
        assert_eq!(cli.config_path(), PathBuf::from(DEFAULT_CONFIG_PATH));
        assert!(Cli::try_parse_from(["goippy", "-v", "-q"]).is_err());
        assert!(Cli::try_parse_from(["goippy", "a.conf", "-c", "b.conf"]).is_err());
    }

    #[test]
    fn line_pool_commands() {
        let parse = |args: &[&str]| {
            let mut all = vec!["goippy"];
            all.extend_from_slice(args);
            Cli::try_parse_from(&all).map(|c| c.admin_command().expect("valid values"))
        };
        assert_eq!(
            parse(&["--add-line", "2001", "gw2"]).expect("parses"),
            Some(AdminCommand::AddLine {
                ext: "2001".into(),
                goip_id: "gw2".into(),
                password: None,
                channel: None,
                allow_regex: None,
            })
        );
        assert_eq!(
            parse(&[
                "--add-line",
                "2001",
                "gw2",
                "-",
                "2",
                "^\\+372",
                "-c",
                "x.conf"
            ])
            .expect("parses"),
            Some(AdminCommand::AddLine {
                ext: "2001".into(),
                goip_id: "gw2".into(),
                password: None,
                channel: Some("2".into()),
                allow_regex: Some("^\\+372".into()),
            })
        );
        assert_eq!(
            parse(&["--add-line", "2001", "gw2", "pw"]).expect("parses"),
            Some(AdminCommand::AddLine {
                ext: "2001".into(),
                goip_id: "gw2".into(),
                password: Some("pw".into()),
                channel: None,
                allow_regex: None,
            })
        );
        assert_eq!(
            parse(&["--remove-line", "2002", "gw2"]).expect("parses"),
            Some(AdminCommand::RemoveLine {
                ext: "2002".into(),
                goip_id: "gw2".into()
            })
        );
        assert_eq!(
            parse(&["--daily-limit", "gw2", "100"]).expect("parses"),
            Some(AdminCommand::DailyLimit {
                goip_id: "gw2".into(),
                limit: Some(100)
            })
        );
        assert_eq!(
            parse(&["--failover", "2001", "on"]).expect("parses"),
            Some(AdminCommand::Failover {
                ext: "2001".into(),
                on: true
            })
        );
        assert!(parse(&["--add-line", "2001"]).is_err());
        assert!(parse(&["--failover", "2001"]).is_err());
        assert!(parse(&["--failover", "2001", "on", "--listExt"]).is_err());
        assert!(parse(&["--add-line", "2001", "gw2", "--goip-id", "x"]).is_err());
    }

    #[test]
    fn admin_commands() {
        let cli = Cli::try_parse_from(["goippy", "--add", "2001", "pw"]).expect("parses");
        assert_eq!(
            cli.admin_command().expect("valid values"),
            Some(AdminCommand::Add {
                ext: "2001".into(),
                password: "pw".into(),
                channel: None,
                goip_id: None,
                allow_regex: None
            })
        );
        // The original form: the third value is the channel.
        let cli = Cli::try_parse_from(["goippy", "--add", "2508", "pw", "1"]).expect("parses");
        assert_eq!(
            cli.admin_command().expect("valid values"),
            Some(AdminCommand::Add {
                ext: "2508".into(),
                password: "pw".into(),
                channel: Some("1".into()),
                goip_id: None,
                allow_regex: None
            })
        );
        // --goip-id before or after the values of --add.
        for args in [
            &["goippy", "--goip-id", "gw1_ch1", "--add", "2001", "pw", "2"][..],
            &["goippy", "--add", "2001", "pw", "2", "--goip-id", "gw1_ch1"],
        ] {
            let cli = Cli::try_parse_from(args).expect("parses");
            assert_eq!(
                cli.admin_command().expect("valid values"),
                Some(AdminCommand::Add {
                    ext: "2001".into(),
                    password: "pw".into(),
                    channel: Some("2".into()),
                    goip_id: Some("gw1_ch1".into()),
                    allow_regex: None
                }),
                "{args:?}"
            );
        }
        // --goip-id belongs to --add only.
        assert!(Cli::try_parse_from(["goippy", "--goip-id", "gw1"]).is_err());
        for other in [
            &["--listExt"][..],
            &["--remove", "1"],
            &["--enable", "1"],
            &["--disable", "1"],
            &["--check"],
            &["--sample"],
            &["--install"],
            &["--list"],
            &["--uninstall", "1"],
        ] {
            let mut args = vec!["goippy", "--goip-id", "gw1"];
            args.extend_from_slice(other);
            assert!(Cli::try_parse_from(&args).is_err(), "{args:?}");
        }
        let cli = Cli::try_parse_from([
            "goippy",
            "--add",
            "2001",
            "pw",
            "-",
            r"\+372.*",
            "-c",
            "/tmp/g.conf",
        ])
        .expect("parses");
        assert_eq!(
            cli.admin_command().expect("valid values"),
            Some(AdminCommand::Add {
                ext: "2001".into(),
                password: "pw".into(),
                channel: Some("-".into()),
                goip_id: None,
                allow_regex: Some(r"\+372.*".into())
            })
        );
        assert_eq!(cli.config_path(), PathBuf::from("/tmp/g.conf"));
        let cli = Cli::try_parse_from(["goippy", "--listExt"]).expect("parses");
        assert_eq!(
            cli.admin_command().expect("valid values"),
            Some(AdminCommand::List)
        );
        let cli =
            Cli::try_parse_from(["goippy", "--disable", "7", "-c", "x.conf"]).expect("parses");
        assert_eq!(
            cli.admin_command().expect("valid values"),
            Some(AdminCommand::Disable { ext: "7".into() })
        );
        assert_eq!(
            Cli::try_parse_from(["goippy", "--remove", "7"])
                .expect("parses")
                .admin_command()
                .expect("valid values"),
            Some(AdminCommand::Remove { ext: "7".into() })
        );
        assert!(
            Cli::try_parse_from(["goippy"])
                .expect("parses")
                .admin_command()
                .expect("valid values")
                .is_none()
        );
        // One command at a time, and not with --check or --sample.
        assert!(Cli::try_parse_from(["goippy", "--listExt", "--remove", "1"]).is_err());
        assert!(Cli::try_parse_from(["goippy", "--listExt", "--check"]).is_err());
        assert!(Cli::try_parse_from(["goippy", "--sample", "--listExt"]).is_err());
        assert!(Cli::try_parse_from(["goippy", "--add"]).is_err());
        // The password read instead of given: nothing, or "-".
        for args in [
            &["goippy", "--add", "2001"][..],
            &["goippy", "--add", "2001", "-", "3", r"^\+372"],
        ] {
            let cli = Cli::try_parse_from(args).expect("parses");
            assert!(cli.add_reads_password(), "{args:?}");
            let Some(AdminCommand::Add { ext, password, .. }) =
                cli.admin_command().expect("valid values")
            else {
                panic!("not --add: {args:?}");
            };
            assert_eq!((ext.as_str(), password.as_str()), ("2001", ""));
        }
        let cli = Cli::try_parse_from(["goippy", "--add", "2001", "pw"]).expect("parses");
        assert!(!cli.add_reads_password());
        let cli = Cli::try_parse_from(["goippy", "--listExt"]).expect("parses");
        assert!(!cli.add_reads_password());
        // After the four values of --add, a positional is the configuration.
        let cli = Cli::try_parse_from(["goippy", "--add", "1", "2", "-", ".*", "/tmp/5.conf"])
            .expect("parses");
        assert_eq!(cli.config_path(), PathBuf::from("/tmp/5.conf"));
    }

    #[test]
    fn service_commands() {
        let parse = |args: &[&str]| {
            let mut all = vec!["goippy"];
            all.extend_from_slice(args);
            Cli::try_parse_from(all)
        };
        let ops = |args: &[&str]| parse(args).expect("parses").ops_command();
        assert_eq!(
            ops(&["--install"]),
            Some(OpsCommand::Install(InstanceName::Main))
        );
        assert_eq!(
            ops(&["--install", "default"]),
            Some(OpsCommand::Install(InstanceName::Main))
        );
        assert_eq!(
            ops(&["--install", "2508"]),
            Some(OpsCommand::Install(InstanceName::Named("2508".into())))
        );
        assert_eq!(ops(&["--list"]), Some(OpsCommand::List));
        assert_eq!(
            ops(&["--uninstall", "2508"]),
            Some(OpsCommand::Uninstall(InstanceName::Named("2508".into())))
        );
        assert_eq!(
            ops(&["--uninstall", "default"]),
            Some(OpsCommand::Uninstall(InstanceName::Main))
        );
        assert_eq!(ops(&[]), None);
        assert_eq!(ops(&["--listExt"]), None);
        // Names are checked by clap, with our message.
        let err = parse(&["--install", "25 08"]).expect_err("bad name");
        assert!(err.to_string().contains("letters, digits"), "{err}");
        assert!(parse(&["--uninstall"]).is_err());
        // One at a time, and not with the other modes.
        for bad in [
            &["--install", "--list"][..],
            &["--list", "--uninstall", "1"],
            &["--list", "--listExt"],
            &["--install", "--check"],
            &["--list", "--sample"],
            &["--list", "/etc/goippy.conf"],
            &["--list", "-c", "/etc/goippy.conf"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let cli = parse(&[
            "--install",
            "2508",
            "--etc-dir",
            "/tmp/r/etc",
            "--unit-dir",
            "/tmp/r/units",
            "--systemctl",
            "/tmp/r/systemctl",
        ])
        .expect("parses");
        let host = cli.ops_host();
        assert_eq!(host.etc_dir, PathBuf::from("/tmp/r/etc"));
        assert_eq!(host.unit_dir, PathBuf::from("/tmp/r/units"));
    }

    #[test]
    fn sample_never_overwrites() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("goippy.conf");
        std::fs::write(&path, "mine").expect("write");
        assert_eq!(
            write_sample(&path).expect("ok"),
            vec![SampleOutcome::KeptExisting(path.clone())]
        );
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "mine");
        let fresh = dir.path().join("new.conf");
        assert_eq!(
            write_sample(&fresh).expect("ok"),
            vec![SampleOutcome::Written(fresh.clone())]
        );
        assert!(check(&fresh).expect("sample checks").contains("OK"));
    }
}
