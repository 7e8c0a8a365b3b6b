use super::*;
use crate::testutil::{logcap, TestEnv};
use ci_host::{CmdError, CmdOutput, Host, Runner};
use serde_json::json;
use std::sync::{Arc, Mutex};

const RC: &str = "/usr/bin/raspi-config nonint";
const REBOOT: &str = "shutdown -r now Rebooting to apply config.txt changes...";

/// Records every argv and fails those whose joined form is listed (the
/// recording runner can only answer by program, and `is_pifive` must fail
/// while the other `raspi-config` calls succeed).
#[derive(Default)]
struct Script {
    fail: Vec<String>,
    calls: Mutex<Vec<String>>,
}

impl Runner for Script {
    fn execute(&self, _host: &Host, cmd: &ci_host::Cmd) -> Result<CmdOutput, CmdError> {
        let line = cmd.argv.join(" ");
        self.calls.lock().unwrap().push(line.clone());
        let status = i32::from(self.fail.contains(&line));
        Ok(CmdOutput {
            status,
            stdout: Vec::new(),
            stderr: if status == 0 {
                Vec::new()
            } else {
                b"boom".to_vec()
            },
        })
    }
}

struct Pi {
    env: TestEnv,
    script: Arc<Script>,
}

impl Pi {
    fn lines(&self) -> Vec<String> {
        self.script.calls.lock().unwrap().clone()
    }
    fn run(&self) -> ModResult {
        handle(&self.env.ctx("raspberry_pi"))
    }
}

/// A Raspberry Pi OS target with the tools installed; `fail` lists the
/// command lines that exit 1 (`is_pifive` failing means "not a Pi 5").
fn pi(rpi: Option<Value>, fail: &[&str]) -> Pi {
    let mut cfg = json!({"system_info": {"distro": "raspberry-pi-os"}});
    if let Some(v) = rpi {
        cfg["rpi"] = v;
    }
    let mut env = TestEnv::new(cfg);
    for p in [
        "/usr/bin/raspi-config",
        "/usr/bin/rpi-usb-gadget",
        "/usr/sbin/shutdown",
    ] {
        env.write_mode(p, "#!/bin/sh\nexit 0\n", 0o755);
    }
    let script = Arc::new(Script {
        fail: fail.iter().map(|s| s.to_string()).collect(),
        calls: Mutex::default(),
    });
    env.host = Host::with_runner(env.host.root(), script.clone());
    Pi { env, script }
}

fn not_pi5() -> String {
    format!("{RC} is_pifive")
}

#[test]
fn gated_to_raspberry_pi_os_per_instance_on_the_rpi_key() {
    let spec = crate::registry::lookup("raspberry_pi").unwrap();
    assert_eq!(spec.distros(), ["raspberry-pi-os"]);
    assert_eq!(spec.activate_keys, ["rpi"]);
    assert!(matches!(spec.frequency, crate::Frequency::PerInstance));
    assert!(spec.verified_on("raspberry-pi-os") && !spec.verified_on("debian"));
    let env = pi(None, &[]);
    assert_eq!(env.env.distro.family, Family::Debian);
}

#[test]
fn example1_enables_spi_and_i2c_then_reboots() {
    let p = pi(Some(json!({"interfaces": {"spi": true, "i2c": true}})), &[]);
    p.run().unwrap();
    assert_eq!(
        p.lines(),
        [
            format!("{RC} do_spi 0"),
            format!("{RC} do_i2c 0"),
            REBOOT.into()
        ]
    );
}

#[test]
fn disabling_onewire_passes_one_and_still_reboots() {
    let p = pi(Some(json!({"interfaces": {"onewire": false}})), &[]);
    p.run().unwrap();
    assert_eq!(p.lines(), [format!("{RC} do_onewire 1"), REBOOT.into()]);
}

#[test]
fn serial_true_before_pi5_enables_console_and_hardware() {
    let p = pi(Some(json!({"interfaces": {"serial": true}})), &[&not_pi5()]);
    p.run().unwrap();
    assert_eq!(
        p.lines(),
        [
            format!("{RC} is_pifive"),
            format!("{RC} do_serial_cons 0"),
            format!("{RC} do_serial_hw 0"),
            REBOOT.into()
        ]
    );
}

#[test]
fn serial_true_on_pi5_leaves_the_hardware_uart_off() {
    let p = pi(Some(json!({"interfaces": {"serial": true}})), &[]);
    p.run().unwrap();
    assert_eq!(
        p.lines(),
        [
            format!("{RC} is_pifive"),
            format!("{RC} do_serial_cons 0"),
            format!("{RC} do_serial_hw 1"),
            REBOOT.into()
        ]
    );
}

#[test]
fn serial_false_disables_both() {
    let p = pi(
        Some(json!({"interfaces": {"serial": false}})),
        &[&not_pi5()],
    );
    p.run().unwrap();
    assert_eq!(
        p.lines()[1..3],
        [
            format!("{RC} do_serial_cons 1"),
            format!("{RC} do_serial_hw 1")
        ]
    );
}

#[test]
fn example3_console_without_hardware_only_holds_on_pi5() {
    let cfg = json!({"interfaces": {"serial": {"console": true, "hardware": false}}});
    let p5 = pi(Some(cfg.clone()), &[]);
    p5.run().unwrap();
    assert_eq!(p5.lines()[2], format!("{RC} do_serial_hw 1"));
    let p4 = pi(Some(cfg), &[&not_pi5()]);
    p4.run().unwrap();
    assert_eq!(p4.lines()[2], format!("{RC} do_serial_hw 0"));
}

#[test]
fn example4_hardware_without_console() {
    let cfg = json!({"interfaces": {"serial": {"console": false, "hardware": true}}});
    let p = pi(Some(cfg), &[&not_pi5()]);
    p.run().unwrap();
    assert_eq!(
        p.lines(),
        [
            format!("{RC} is_pifive"),
            format!("{RC} do_serial_cons 1"),
            format!("{RC} do_serial_hw 0"),
            REBOOT.into()
        ]
    );
}

#[test]
fn bad_serial_fields_warn_and_count_as_false() {
    logcap::init();
    let cfg = json!({"interfaces": {"serial": {"console": "yes", "hardware": null}}});
    let p = pi(Some(cfg), &[]);
    p.run().unwrap();
    assert_eq!(
        p.lines()[1..3],
        [
            format!("{RC} do_serial_cons 1"),
            format!("{RC} do_serial_hw 1")
        ]
    );
    let w = logcap::warnings();
    assert!(w.contains(&"Invalid value for interfaces.serial.console: yes".to_string()));
    assert!(w.contains(&"Invalid value for interfaces.serial.hardware: None".to_string()));
}

#[test]
fn example5_usb_gadget_on_and_off() {
    let p = pi(Some(json!({"enable_usb_gadget": true})), &[]);
    p.run().unwrap();
    assert_eq!(p.lines(), ["/usr/bin/rpi-usb-gadget on -f", REBOOT]);
    let p = pi(Some(json!({"enable_usb_gadget": false})), &[]);
    p.run().unwrap();
    assert_eq!(p.lines(), ["/usr/bin/rpi-usb-gadget off -f", REBOOT]);
}

#[test]
fn missing_usb_gadget_script_logs_an_error_and_needs_no_reboot() {
    logcap::init();
    let p = pi(Some(json!({"enable_usb_gadget": true})), &[]);
    std::fs::remove_file(p.env.host.path(USB_GADGET_SCRIPT)).unwrap();
    p.run().unwrap();
    assert!(p.lines().is_empty());
    assert!(logcap::warnings()
        .contains(&"rpi-usb-gadget script not found: /usr/bin/rpi-usb-gadget".to_string()));
}

#[test]
fn non_boolean_usb_gadget_is_a_value_error_after_earlier_keys_ran() {
    let p = pi(
        Some(json!({"interfaces": {"spi": true}, "enable_usb_gadget": "yes"})),
        &[],
    );
    let err = p.run().unwrap_err();
    assert_eq!(err.py_class(), "ValueError");
    assert_eq!(err.to_string(), "Invalid value for enable_usb_gadget");
    assert_eq!(p.lines(), [format!("{RC} do_spi 0")]);
}

#[test]
fn absent_or_empty_config_does_nothing() {
    logcap::init();
    let p = pi(None, &[]);
    p.run().unwrap();
    assert!(p.lines().is_empty());
    let p = pi(Some(json!({})), &[]);
    p.run().unwrap();
    assert!(p.lines().is_empty());
    assert!(logcap::all().contains(&"Empty value for rpi. Skipping...".to_string()));
    let p = pi(Some(json!({"interfaces": {}})), &[]);
    p.run().unwrap();
    assert!(p.lines().is_empty());
    assert!(logcap::all().contains(&"Empty value for interfaces. Skipping...".to_string()));
}

#[test]
fn bad_shapes_warn_without_commands() {
    logcap::init();
    let p = pi(Some(json!(true)), &[]);
    p.run().unwrap();
    let p2 = pi(Some(json!({"interfaces": ["spi"]})), &[]);
    p2.run().unwrap();
    let p3 = pi(
        Some(json!({"other": 1, "interfaces": {"uart": true, "spi": "on", "serial": 3}})),
        &[],
    );
    p3.run().unwrap();
    assert!(p.lines().is_empty() && p2.lines().is_empty() && p3.lines().is_empty());
    let w = logcap::warnings();
    for m in [
        "Invalid value for rpi: True",
        "Invalid value for rpi: ['spi']",
        "Unsupported key: other",
        "Invalid key for interfaces: uart",
        "Invalid value for interfaces.spi: on",
        "Invalid value for interfaces.serial: 3",
    ] {
        assert!(w.contains(&m.to_string()), "{m}: {w:?}");
    }
}

#[test]
fn bad_interfaces_value_ends_the_module_before_the_reboot() {
    let p = pi(
        Some(json!({"enable_usb_gadget": true, "interfaces": "spi"})),
        &[],
    );
    p.run().unwrap();
    assert_eq!(p.lines(), ["/usr/bin/rpi-usb-gadget on -f"]);
}

#[test]
fn failed_commands_log_errors_and_skip_the_reboot() {
    logcap::init();
    let spi = format!("{RC} do_spi 0");
    let cons = format!("{RC} do_serial_cons 0");
    let p = pi(
        Some(json!({"interfaces": {"spi": true, "serial": true}})),
        &[&spi, &cons],
    );
    p.run().unwrap();
    assert_eq!(p.lines(), [spi, format!("{RC} is_pifive"), cons]);
    let w = logcap::warnings();
    assert!(
        w.iter()
            .any(|m| m
                .starts_with("Failed to configure spi: Unexpected error while running command.")),
        "{w:?}"
    );
    assert!(w
        .iter()
        .any(|m| m.starts_with("Failed to configure serial console: ")));
}

#[test]
fn failed_serial_hardware_is_reported_apart() {
    logcap::init();
    let hw = format!("{RC} do_serial_hw 1");
    let p = pi(Some(json!({"interfaces": {"serial": false}})), &[&hw]);
    p.run().unwrap();
    assert_eq!(p.lines().last().unwrap(), &hw);
    assert!(logcap::warnings()
        .iter()
        .any(|m| m.starts_with("Failed to configure serial hardware: ")));
}

#[test]
fn failed_reboot_fails_the_module() {
    let p = pi(Some(json!({"interfaces": {"i2c": false}})), &[REBOOT]);
    let err = p.run().unwrap_err();
    assert_eq!(err.py_class(), "ProcessExecutionError");
    assert_eq!(p.lines(), [format!("{RC} do_i2c 1"), REBOOT.into()]);
}

#[test]
fn missing_raspi_config_is_a_failed_change() {
    logcap::init();
    let p = pi(Some(json!({"interfaces": {"i2c": true}})), &[]);
    std::fs::remove_file(p.env.host.path(RASPI_CONFIG)).unwrap();
    p.run().unwrap();
    assert!(p.lines().is_empty());
    assert!(logcap::warnings()
        .iter()
        .any(|m| m.starts_with("Failed to configure i2c: ")
            && m.contains("No such file or directory: b'/usr/bin/raspi-config'")));
}

#[test]
fn alpine_reboots_with_its_own_command() {
    let d = Distro::from_config(&json!({"system_info": {"distro": "alpine"}}));
    assert_eq!(reboot_command(&d), ["reboot", "-d", "0"]);
}
