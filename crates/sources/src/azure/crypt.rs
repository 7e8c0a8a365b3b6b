//! SHA-512 crypt (`$6$`), the hash upstream stores for the OVF password
//! (Python's `crypt.crypt(password, "$6$<16 random chars>")`).

const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const ROUNDS: usize = 5000;

const K: [u64; 80] = [
    0x428a2f98d728ae22,
    0x7137449123ef65cd,
    0xb5c0fbcfec4d3b2f,
    0xe9b5dba58189dbbc,
    0x3956c25bf348b538,
    0x59f111f1b605d019,
    0x923f82a4af194f9b,
    0xab1c5ed5da6d8118,
    0xd807aa98a3030242,
    0x12835b0145706fbe,
    0x243185be4ee4b28c,
    0x550c7dc3d5ffb4e2,
    0x72be5d74f27b896f,
    0x80deb1fe3b1696b1,
    0x9bdc06a725c71235,
    0xc19bf174cf692694,
    0xe49b69c19ef14ad2,
    0xefbe4786384f25e3,
    0x0fc19dc68b8cd5b5,
    0x240ca1cc77ac9c65,
    0x2de92c6f592b0275,
    0x4a7484aa6ea6e483,
    0x5cb0a9dcbd41fbd4,
    0x76f988da831153b5,
    0x983e5152ee66dfab,
    0xa831c66d2db43210,
    0xb00327c898fb213f,
    0xbf597fc7beef0ee4,
    0xc6e00bf33da88fc2,
    0xd5a79147930aa725,
    0x06ca6351e003826f,
    0x142929670a0e6e70,
    0x27b70a8546d22ffc,
    0x2e1b21385c26c926,
    0x4d2c6dfc5ac42aed,
    0x53380d139d95b3df,
    0x650a73548baf63de,
    0x766a0abb3c77b2a8,
    0x81c2c92e47edaee6,
    0x92722c851482353b,
    0xa2bfe8a14cf10364,
    0xa81a664bbc423001,
    0xc24b8b70d0f89791,
    0xc76c51a30654be30,
    0xd192e819d6ef5218,
    0xd69906245565a910,
    0xf40e35855771202a,
    0x106aa07032bbd1b8,
    0x19a4c116b8d2d0c8,
    0x1e376c085141ab53,
    0x2748774cdf8eeb99,
    0x34b0bcb5e19b48a8,
    0x391c0cb3c5c95a63,
    0x4ed8aa4ae3418acb,
    0x5b9cca4f7763e373,
    0x682e6ff3d6b2b8a3,
    0x748f82ee5defb2fc,
    0x78a5636f43172f60,
    0x84c87814a1f0ab72,
    0x8cc702081a6439ec,
    0x90befffa23631e28,
    0xa4506cebde82bde9,
    0xbef9a3f7b2c67915,
    0xc67178f2e372532b,
    0xca273eceea26619c,
    0xd186b8c721c0c207,
    0xeada7dd6cde0eb1e,
    0xf57d4f7fee6ed178,
    0x06f067aa72176fba,
    0x0a637dc5a2c898a6,
    0x113f9804bef90dae,
    0x1b710b35131c471b,
    0x28db77f523047d84,
    0x32caab7b40c72493,
    0x3c9ebe0a15c9bebc,
    0x431d67c49c100d4c,
    0x4cc5d4becb3e42b6,
    0x597f299cfc657e2a,
    0x5fcb6fab3ad6faec,
    0x6c44198c4a475817,
];

/// SHA-512 of `data`.
pub fn sha512(data: &[u8]) -> [u8; 64] {
    let mut h: [u64; 8] = [
        0x6a09e667f3bcc908,
        0xbb67ae8584caa73b,
        0x3c6ef372fe94f82b,
        0xa54ff53a5f1d36f1,
        0x510e527fade682d1,
        0x9b05688c2b3e6c1f,
        0x1f83d9abfb41bd6b,
        0x5be0cd19137e2179,
    ];
    let mut msg = data.to_vec();
    let bit_len = (data.len() as u128).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 128 != 112 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());
    for block in msg.chunks_exact(128) {
        let mut w = [0u64; 80];
        for (i, chunk) in block.chunks_exact(8).enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            if let Some(slot) = w.get_mut(i) {
                *slot = u64::from_be_bytes(b);
            }
        }
        for i in 16..80 {
            let s0 = w[i - 15].rotate_right(1) ^ w[i - 15].rotate_right(8) ^ (w[i - 15] >> 7);
            let s1 = w[i - 2].rotate_right(19) ^ w[i - 2].rotate_right(61) ^ (w[i - 2] >> 6);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..80 {
            let s1 = e.rotate_right(14) ^ e.rotate_right(18) ^ e.rotate_right(41);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(28) ^ a.rotate_right(34) ^ a.rotate_right(39);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 64];
    for (chunk, v) in out.chunks_exact_mut(8).zip(h) {
        chunk.copy_from_slice(&v.to_be_bytes());
    }
    out
}

/// `n` bytes of `src` repeated.
fn repeat_to(src: &[u8], n: usize) -> Vec<u8> {
    src.iter().copied().cycle().take(n).collect()
}

/// `crypt(password, "$6$" + salt)` with the default 5000 rounds.
pub fn sha512_crypt(password: &str, salt: &str) -> String {
    let pw = password.as_bytes();
    let salt: String = salt.chars().take(16).collect();
    let sb = salt.as_bytes();
    let b = sha512(&[pw, sb, pw].concat());
    let mut a_in = [pw, sb].concat();
    a_in.extend(repeat_to(&b, pw.len()));
    let mut n = pw.len();
    while n > 0 {
        if n & 1 == 1 {
            a_in.extend_from_slice(&b);
        } else {
            a_in.extend_from_slice(pw);
        }
        n >>= 1;
    }
    let mut a = sha512(&a_in);
    let dp = sha512(&pw.repeat(pw.len()));
    let p = repeat_to(&dp, pw.len());
    let ds = sha512(&sb.repeat(16 + usize::from(a[0])));
    let s = repeat_to(&ds, sb.len());
    for i in 0..ROUNDS {
        let mut c = Vec::with_capacity(256);
        if i % 2 == 1 {
            c.extend_from_slice(&p);
        } else {
            c.extend_from_slice(&a);
        }
        if i % 3 != 0 {
            c.extend_from_slice(&s);
        }
        if i % 7 != 0 {
            c.extend_from_slice(&p);
        }
        if i % 2 == 1 {
            c.extend_from_slice(&a);
        } else {
            c.extend_from_slice(&p);
        }
        a = sha512(&c);
    }
    const ORDER: [(usize, usize, usize); 21] = [
        (0, 21, 42),
        (22, 43, 1),
        (44, 2, 23),
        (3, 24, 45),
        (25, 46, 4),
        (47, 5, 26),
        (6, 27, 48),
        (28, 49, 7),
        (50, 8, 29),
        (9, 30, 51),
        (31, 52, 10),
        (53, 11, 32),
        (12, 33, 54),
        (34, 55, 13),
        (56, 14, 35),
        (15, 36, 57),
        (37, 58, 16),
        (59, 17, 38),
        (18, 39, 60),
        (40, 61, 19),
        (62, 20, 41),
    ];
    let mut out = format!("$6${salt}$");
    let mut push = |w: u32, n: usize| {
        let mut w = w;
        for _ in 0..n {
            out.push(char::from(ITOA64[(w & 0x3f) as usize]));
            w >>= 6;
        }
    };
    for (x, y, z) in ORDER {
        push(
            (u32::from(a[x]) << 16) | (u32::from(a[y]) << 8) | u32::from(a[z]),
            4,
        );
    }
    push(u32::from(a[63]), 2);
    out
}

/// Upstream `encrypt_pass`: SHA-512 crypt with a salt of 16 random
/// characters from `[A-Za-z0-9]` (`rand_str(16)`). No randomness, no hash.
pub fn hash_password(password: &str) -> Result<String, ci_host::random::RandomError> {
    const CHARS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let salt = ci_host::random::pick_chars(CHARS, 16)?;
    Ok(sha512_crypt(password, &salt))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        // Oracle: crypt.crypt("secret", "$6$saltsaltsaltsalt").
        assert_eq!(
            sha512_crypt("secret", "saltsaltsaltsalt"),
            include_str!("../../tests/fixtures/azure-crypt.txt").trim()
        );
        assert_eq!(sha512(b"abc")[..4], [0xdd, 0xaf, 0x35, 0xa1]);
        let h = hash_password("x").unwrap();
        assert!(h.starts_with("$6$"));
        assert_eq!(h.len(), 3 + 16 + 1 + 86);
        assert_ne!(h, hash_password("x").unwrap(), "salt repeated");
    }
}
