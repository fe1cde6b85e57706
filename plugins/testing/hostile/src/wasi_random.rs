//! The one WASI call the standard library gives no way to make at any size:
//! `wasi:random/random.get-random-bytes`, imported directly so the `big-random` attack can
//! ask the host for more bytes than one call may carry.

#![allow(missing_docs)]

wit_bindgen::generate!({
    inline: r"
        package weft-test:hostile;

        world wasi-random {
            import wasi:random/random@0.2.0;
        }

        package wasi:random@0.2.0 {
            interface random {
                get-random-bytes: func(len: u64) -> list<u8>;
                get-random-u64: func() -> u64;
            }
        }
    ",
    world: "weft-test:hostile/wasi-random",
    generate_all,
});

/// `len` random bytes from the host, in one call.
pub fn random_bytes(len: u64) -> Vec<u8> {
    wasi::random::random::get_random_bytes(len)
}
