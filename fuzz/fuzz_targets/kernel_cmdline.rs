#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ci_fuzz::kernel_cmdline(data));
