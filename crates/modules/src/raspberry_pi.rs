//! `raspberry_pi` (upstream 26.2; 25.1.4 has no such module): switch the
//! Raspberry Pi's SPI, I2C, 1-Wire and serial interfaces with
//! `raspi-config nonint`, and USB gadget mode with `rpi-usb-gadget`.
//!
//! Every change that succeeds asks for a reboot (config.txt and modprobe
//! settings only take effect then), which the module performs at its end.
//! Upstream treats most bad values as warnings and goes on; only a
//! non-boolean `enable_usb_gadget` fails the module.

use crate::subp::{capture, shown_list};
use crate::{Ctx, ModResult, ModuleError};
use ci_distro::{Distro, Family};
use ci_pyval::py_str;
use log::{debug, error, warn};
use serde_json::{Map, Value};

const KEY: &str = "rpi";
const INTERFACES: &str = "interfaces";
const USB_GADGET: &str = "enable_usb_gadget";
const SERIAL: &str = "serial";
const RASPI_CONFIG: &str = "/usr/bin/raspi-config";
const USB_GADGET_SCRIPT: &str = "/usr/bin/rpi-usb-gadget";
const REBOOT_MSG: &str = "Rebooting to apply config.txt changes...";

/// The `raspi-config` function of each on/off interface.
fn raspi_function(iface: &str) -> Option<&'static str> {
    match iface {
        "spi" => Some("do_spi"),
        "i2c" => Some("do_i2c"),
        "onewire" => Some("do_onewire"),
        _ => None,
    }
}

pub fn handle(ctx: &Ctx) -> ModResult {
    let Some(rpi) = ctx.cfg.get(KEY) else {
        return Ok(());
    };
    let Some(rpi) = rpi.as_object() else {
        warn!("Invalid value for {KEY}: {}", py_str(rpi));
        return Ok(());
    };
    if rpi.is_empty() {
        debug!("Empty value for {KEY}. Skipping...");
        return Ok(());
    }

    let mut want_reboot = false;
    for (key, value) in rpi {
        match key.as_str() {
            USB_GADGET => match value.as_bool() {
                Some(enable) => want_reboot |= configure_usb_gadget(ctx, enable),
                None => {
                    return Err(ModuleError::with_class(
                        "ValueError",
                        format!("Invalid value for {USB_GADGET}"),
                    ))
                }
            },
            INTERFACES => {
                // Upstream leaves the whole module here, reboot included.
                let Some(ifaces) = value.as_object() else {
                    warn!("Invalid value for {KEY}: {}", py_str(value));
                    return Ok(());
                };
                if ifaces.is_empty() {
                    debug!("Empty value for {key}. Skipping...");
                    return Ok(());
                }
                want_reboot |= configure_interfaces(ctx, ifaces);
            }
            _ => warn!("Unsupported key: {key}"),
        }
    }

    if want_reboot {
        let argv = reboot_command(ctx.distro);
        capture(ctx.host, &argv, &shown_list(&argv), None, &[0])
            .map_err(|e| ModuleError::with_class("ProcessExecutionError", e.text))?;
    }
    Ok(())
}

/// Applies each entry of `rpi.interfaces`; true when any change succeeded.
fn configure_interfaces(ctx: &Ctx, ifaces: &Map<String, Value>) -> bool {
    let mut want_reboot = false;
    for (name, value) in ifaces {
        if name == SERIAL {
            if value.is_object() || value.is_boolean() {
                want_reboot |= configure_serial(ctx, value);
            } else {
                warn!("Invalid value for {INTERFACES}.{name}: {}", py_str(value));
            }
            continue;
        }
        let Some(function) = raspi_function(name) else {
            warn!("Invalid key for {INTERFACES}: {name}");
            continue;
        };
        match value.as_bool() {
            Some(enable) => {
                if let Err(e) = raspi_config(ctx, &[function, on_off(enable)]) {
                    error!("Failed to configure {name}: {e}");
                } else {
                    want_reboot = true;
                }
            }
            None => warn!("Invalid value for {INTERFACES}.{name}: {}", py_str(value)),
        }
    }
    want_reboot
}

/// `serial: true|false` sets the console (the UART follows it on models
/// before the Pi 5); `serial: {console, hardware}` sets both apart.
fn configure_serial(ctx: &Ctx, cfg: &Value) -> bool {
    let (console, mut hardware) = match cfg {
        Value::Object(m) => (serial_flag(m, "console"), serial_flag(m, "hardware")),
        Value::Bool(b) => (*b, false),
        _ => (false, false),
    };
    // Only the Pi 5 has a second usable UART: elsewhere a console on the
    // serial port needs the hardware UART too. Upstream always asks.
    if !is_pi5(ctx) && console {
        hardware = true;
    }
    if let Err(e) = raspi_config(ctx, &["do_serial_cons", on_off(console)]) {
        error!("Failed to configure serial console: {e}");
        return false;
    }
    if let Err(e) = raspi_config(ctx, &["do_serial_hw", on_off(hardware)]) {
        error!("Failed to configure serial hardware: {e}");
        return false;
    }
    true
}

fn serial_flag(m: &Map<String, Value>, name: &str) -> bool {
    match m.get(name) {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            warn!(
                "Invalid value for {INTERFACES}.{SERIAL}.{name}: {}",
                py_str(other)
            );
            false
        }
    }
}

fn is_pi5(ctx: &Ctx) -> bool {
    raspi_config(ctx, &["is_pifive"]).is_ok()
}

/// Returns true when a reboot is needed (the script ran and succeeded).
fn configure_usb_gadget(ctx: &Ctx, enable: bool) -> bool {
    debug!(
        "Enable rpi-usb-gadget mode: {}",
        if enable { "True" } else { "False" }
    );
    // Upstream tests existence only, not whether it is executable.
    if std::fs::symlink_metadata(ctx.host.resolve(USB_GADGET_SCRIPT)).is_err() {
        error!("rpi-usb-gadget script not found: {USB_GADGET_SCRIPT}");
        return false;
    }
    // `-f`: switch even on a model the script does not know, so the card
    // can be prepared on one Pi and moved to another.
    let argv: Vec<String> = [USB_GADGET_SCRIPT, if enable { "on" } else { "off" }, "-f"]
        .map(String::from)
        .to_vec();
    match capture(ctx.host, &argv, &shown_list(&argv), None, &[0]) {
        Ok(_) => true,
        Err(e) => {
            error!("Failed to configure rpi-usb-gadget: {e}");
            false
        }
    }
}

/// `raspi-config` takes 0 for "enable" and 1 for "disable".
fn on_off(enable: bool) -> &'static str {
    if enable {
        "0"
    } else {
        "1"
    }
}

fn raspi_config(ctx: &Ctx, args: &[&str]) -> Result<(), crate::subp::ExecError> {
    let argv: Vec<String> = [RASPI_CONFIG, "nonint"]
        .iter()
        .chain(args)
        .map(|s| s.to_string())
        .collect();
    capture(ctx.host, &argv, &shown_list(&argv), None, &[0]).map(|_| ())
}

/// The distro's `shutdown_command(mode="reboot", delay="now", message=...)`.
fn reboot_command(distro: &Distro) -> Vec<String> {
    if distro.family == Family::Alpine {
        // Alpine's reboot takes a delay in seconds and no message.
        return ["reboot", "-d", "0"].map(String::from).to_vec();
    }
    ["shutdown", "-r", "now", REBOOT_MSG]
        .map(String::from)
        .to_vec()
}

#[cfg(test)]
mod tests;
