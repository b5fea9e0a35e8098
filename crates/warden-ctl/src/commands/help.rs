//! `help [topic]`: the command list, or one command's help.

use crate::ctl::{Ctl, R};

/// `help` with no topic: `cmd.Cmd`'s listing of the commands.
const HELP_TOPICS: &str = "\ndefault commands (type help <topic>):\n=====================================\nadd    exit      open  reload  restart   start   tail   \navail  fg        pid   remove  shutdown  status  update \nclear  maintail  quit  reread  signal    stop    version\n\n";

/// warden's own commands, listed after supervisorctl's when called as
/// `warden ctl` (as `supervisorctl` the listing stays supervisorctl's).
const WARDEN_TOPICS: &str =
    "warden commands (type help <topic>):\n====================================\nevents  wait\n\n";

impl Ctl {
    pub(super) fn do_help(&mut self, arg: &str) -> R<()> {
        let arg = arg.trim();
        if arg == "help" {
            self.output("help\t\tPrint a list of available actions");
            self.output("help <action>\tPrint help for <action>");
            return Ok(());
        }
        if arg.is_empty() {
            self.out.extend_from_slice(HELP_TOPICS.as_bytes());
            if self.opts.warden_named() {
                self.out.extend_from_slice(WARDEN_TOPICS.as_bytes());
            }
            return Ok(());
        }
        if !self.help_topic(arg) {
            self.output(&format!("*** No help on {arg}"));
        }
        Ok(())
    }

    fn help_topic(&mut self, topic: &str) -> bool {
        let text: &str = match topic {
            "tail" => "tail [-f] <name> [stdout|stderr] (default stdout)\nEx:\ntail -f <name>\t\tContinuous tail of named process stdout\n\t\t\tCtrl-C to exit.\ntail -100 <name>\tlast 100 *bytes* of process stdout\ntail <name> stderr\tlast 1600 *bytes* of process stderr",
            "maintail" => "maintail -f \tContinuous tail of supervisor main log file (Ctrl-C to exit)\nmaintail -100\tlast 100 *bytes* of supervisord main log file\nmaintail\tlast 1600 *bytes* of supervisor main log file\n",
            "quit" => "quit\tExit the supervisor shell.",
            "exit" => "exit\tExit the supervisor shell.",
            "status" => "status <name>\t\tGet status for a single process\nstatus <gname>:*\tGet status for all processes in a group\nstatus <name> <name>\tGet status for multiple named processes\nstatus\t\t\tGet all process status info",
            "pid" => "pid\t\t\tGet the PID of supervisord.\npid <name>\t\tGet the PID of a single child process by name.\npid all\t\t\tGet the PID of every child process, one per line.",
            "start" => "start <name>\t\tStart a process\nstart <gname>:*\t\tStart all processes in a group\nstart <name> <name>\tStart multiple processes or groups\nstart all\t\tStart all processes",
            "stop" => "stop <name>\t\tStop a process\nstop <gname>:*\t\tStop all processes in a group\nstop <name> <name>\tStop multiple processes or groups\nstop all\t\tStop all processes",
            "signal" => "signal <signal name> <name>\t\tSignal a process\nsignal <signal name> <gname>:*\t\tSignal all processes in a group\nsignal <signal name> <name> <name>\tSignal multiple processes or groups\nsignal <signal name> all\t\tSignal all processes",
            "restart" => "restart <name>\t\tRestart a process\nrestart <gname>:*\tRestart all processes in a group\nrestart <name> <name>\tRestart multiple processes or groups\nrestart all\t\tRestart all processes\nNote: restart does not reread config files. For that, see reread and update.",
            "shutdown" => "shutdown \tShut the remote supervisord down.",
            "reload" => "reload \t\tRestart the remote supervisord.",
            "avail" => "avail\t\t\tDisplay all configured processes",
            "reread" => "reread \t\t\tReload the daemon's configuration files without add/remove",
            "add" => "add <name> [...]\tActivates any updates in config for process/group",
            "remove" => "remove <name> [...]\tRemoves process/group from active config",
            "update" => "update\t\t\tReload config and add/remove as necessary, and will restart affected programs\nupdate all\t\tReload config and add/remove as necessary, and will restart affected programs\nupdate <gname> [...]\tUpdate specific groups",
            "clear" => "clear <name>\t\tClear a process' log files.\nclear <name> <name>\tClear multiple process' log files\nclear all\t\tClear all process' log files",
            "open" => "open <url>\tConnect to a remote supervisord process.\n\t\t(for UNIX domain socket, use unix:///socket/path)",
            "version" => "version\t\t\tShow the version of the remote supervisord process",
            "fg" => "fg <process>\tConnect to a process in foreground mode\n\t\tCtrl-C to exit",
            // warden extensions.
            "events" => "events [--json]\t\tFollow the supervisor's events (process states,\n\t\t\tgroups, the supervisor's state) until Ctrl-C: one line,\n\t\t\tor one JSON object with --json, per event.",
            "wait" => "wait [--timeout S] <name>... [--for running|stopped]\n\t\t\tWait until every named process (name, group:*, all) is\n\t\t\tRUNNING (default) or stopped. Exit 0 when reached, 1 at\n\t\t\tthe timeout (default 30 s), 3 if a process went FATAL while\n\t\t\twaiting for running, 4 if the server cannot be reached.",
            _ => return false,
        };
        self.output(text);
        true
    }

    /// Prints a command's help (supervisorctl's `help_<command>`).
    pub(crate) fn help(&mut self, topic: &str) {
        self.help_topic(topic);
    }
}
