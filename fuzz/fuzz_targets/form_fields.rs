//! The reader of forms and queries (`robots_server::verification::form_pairs`
//! and `read_fields`): `/v1/auth`'s `repository` and `action`, the token an
//! introspection asks about, the registry's `service` and `scope`s.
//!
//! Invariants, besides never panicking:
//! - the pairs are exactly those the general decoder (`form_urlencoded`)
//!   reads, whether the text was split in place or decoded;
//! - the fields are what `serde_urlencoded` reads into a struct of optional
//!   strings, the same values or the same error.

#![no_main]

use libfuzzer_sys::fuzz_target;
use robots_server::verification::{form_pairs, read_fields};

#[derive(serde::Deserialize)]
struct Wanted {
    repository: Option<String>,
    action: Option<String>,
}

fuzz_target!(|data: &[u8]| {
    let read: Vec<_> = form_pairs(data).collect();
    let decoded: Vec<_> = form_urlencoded::parse(data).collect();
    assert_eq!(read, decoded);

    let fields = read_fields(data, ["repository", "action"]).map(|fields| fields.map(|field| field.map(String::from)));
    let wanted = serde_urlencoded::from_bytes::<Wanted>(data)
        .map(|wanted| [wanted.repository, wanted.action])
        .map_err(|error| error.to_string());
    assert_eq!(fields, wanted);
});
