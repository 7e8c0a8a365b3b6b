#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ci_fuzz::fat_seed(data));
