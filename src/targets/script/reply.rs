//! What a script says, as structs: the framed `key=value` lines of its report are read
//! into these with serde ([`from_pairs`]), each struct taking the keys it names and
//! leaving the others. Values arrive as text: numbers are parsed, 1 and 0 are booleans,
//! enums are their words, a key said several times fills a list. A target is not
//! trusted: a value that does not parse is a protocol error, never a panic. A test
//! holds every key the scripts say against these fields.

use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde::Deserialize;

use crate::auth::store::CredentialStore;
use crate::targets::{FileKind, HomeSource, Outcome, Previous, RemoveOutcome};

/// Why a script stopped on purpose (`fail CLASS DETAIL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Failure {
    Protocol,
    NoHome,
    /// A command failed; the detail says what it said.
    Write,
    Busy,
    NotAFile,
    /// Someone else could write the Codex home (check_home_safe).
    UnsafeHome,
    ForcedLogin,
    ForcedWorkspace,
    Torn,
    /// The compare-and-swap precondition does not hold.
    Changed,
    /// The precondition cannot be checked: no sha256 tool there.
    Unverifiable,
    /// A word this program does not know (a newer or a hostile script).
    #[serde(other)]
    Unknown,
}

/// Whether the write took Codex's locks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Lock {
    Held,
    /// No flock there.
    None,
}

/// Whether Codex there can reach an OS keyring, and how that was decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Keyring {
    Reachable,
    Unreachable,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum KeyringBy {
    /// Codex itself was asked.
    Codex,
    /// No codex: a D-Bus session bus counts as a keyring.
    Bus,
}

/// The end of every report, and the failure it may carry.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct End {
    /// The report came to its end (nothing cut it short).
    pub end: bool,
    pub error: Option<Failure>,
    pub detail: Option<String>,
}

/// Where the login lives and whose it is (`locate` and `read_config`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Located {
    pub dir: Option<String>,
    pub home_from: Option<HomeSource>,
    pub uid: Option<String>,
    pub login: Option<String>,
    pub store: Option<CredentialStore>,
    pub forced_login_method: Option<String>,
    /// The workspaces allowed, comma-separated.
    pub forced_workspace: Option<String>,
}

/// What Codex there says (`codex_verdict`): `codex_rc` is `none` where no codex was
/// found, else the exit status of `codex login status`, whose lines follow.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Verdict {
    pub codex_rc: Option<String>,
    pub codex_path: Option<String>,
    pub codex_version: Option<String>,
    pub codex_line: Vec<String>,
}

/// Things worth knowing that are not failures.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Notes {
    /// Codex processes of the user running there.
    pub codex_running: Option<u32>,
    pub lock: Option<Lock>,
    pub keyring: Option<Keyring>,
    pub keyring_by: Option<KeyringBy>,
    /// What Codex said of the keyring it could not reach.
    pub keyring_why: Option<String>,
    /// Temp files of runs that died, removed.
    pub cleaned: Vec<String>,
    /// Temp files found beside the login (inspect: found, not removed).
    pub leftover: Vec<String>,
    /// Leases of runs whose keeper is gone, removed.
    pub cleaned_lease: Vec<String>,
}

/// What `sh/install.sh` says of its own.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Install {
    pub outcome: Option<Outcome>,
    /// What was at the path (decided under the locks).
    pub existing: Option<Previous>,
    pub backup: Option<String>,
    /// The rename was about to happen, the client still there: said just before it, so
    /// that a client gone by then stops the script (SIGPIPE) before the rename.
    pub committing: bool,
    /// sha256 of what is there now (empty without a hash tool).
    pub sum: Option<String>,
    /// Read back after writing, as `ls -ln` shows them.
    pub len: Option<String>,
    pub file_mode: Option<String>,
    pub file_uid: Option<String>,
    pub dir_mode: Option<String>,
    pub dir_uid: Option<String>,
}

/// What `sh/inspect.sh` says of its own.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Inspect {
    pub kind: Option<FileKind>,
    pub file_mode: Option<String>,
    /// The length of the login that follows the report.
    pub auth_len: Option<usize>,
    /// There is a file, and the user cannot read it.
    pub unreadable: bool,
    /// The login's sha256 (`digest_only`; empty without a hash tool there).
    pub sum: Option<String>,
}

/// What `sh/remove.sh` says of its own.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Remove {
    pub outcome: Option<RemoveOutcome>,
    pub backup: Option<String>,
    /// The length of the login removed, which follows the report (only when asked for).
    pub auth_len: Option<usize>,
    /// The sha256 of the login removed, when the login itself is not sent.
    pub sum: Option<String>,
}

/// What `sh/lease.sh` says: where the lease is, and at its end whether it was removed
/// and whether the command left a changed login (which follows the second report).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Lease {
    pub lease: Option<String>,
    /// Where the codex its user would run is (asked with find_codex).
    pub codex_dir: Option<String>,
    pub removed: bool,
    pub changed: bool,
    pub auth_len: Option<usize>,
}

/// A reply that does not parse.
#[derive(Debug)]
pub(crate) struct BadReply(pub String);

impl std::fmt::Display for BadReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadReply {}

impl de::Error for BadReply {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        BadReply(msg.to_string())
    }
}

/// Read `T` from the report's pairs (in the order said).
pub(crate) fn from_pairs<T: DeserializeOwned>(pairs: &[(String, String)]) -> Result<T, BadReply> {
    T::deserialize(Pairs { pairs })
}

/// The whole report as a deserializer: a map from each key to its values.
struct Pairs<'a> {
    pairs: &'a [(String, String)],
}

impl<'de> de::Deserializer<'de> for Pairs<'_> {
    type Error = BadReply;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BadReply> {
        let mut keys: Vec<&str> = Vec::new();
        for (k, _) in self.pairs {
            if !keys.contains(&k.as_str()) {
                keys.push(k);
            }
        }
        visitor.visit_map(Keys {
            pairs: self.pairs,
            keys: keys.into_iter(),
            current: None,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

struct Keys<'a, I> {
    pairs: &'a [(String, String)],
    keys: I,
    current: Option<&'a str>,
}

impl<'de, 'a, I: Iterator<Item = &'a str>> de::MapAccess<'de> for Keys<'a, I> {
    type Error = BadReply;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, BadReply> {
        let Some(key) = self.keys.next() else {
            return Ok(None);
        };
        self.current = Some(key);
        seed.deserialize(key.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, BadReply> {
        let key = self.current.take().unwrap_or_default();
        let values = self
            .pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect();
        seed.deserialize(Values { key, values })
            .map_err(|e| BadReply(format!("{key}: {e}")))
    }
}

/// The values said for one key: the first is the value, all of them a list.
struct Values<'a> {
    key: &'a str,
    values: Vec<&'a str>,
}

impl Values<'_> {
    fn first(&self) -> &str {
        self.values.first().copied().unwrap_or("")
    }

    fn parse<T: std::str::FromStr>(&self) -> Result<T, BadReply> {
        self.first()
            .trim()
            .parse()
            .map_err(|_| BadReply(format!("{:?} is not a number", self.first())))
    }
}

macro_rules! parse_numbers {
    ($($method:ident $visit:ident $ty:ty),*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BadReply> {
            visitor.$visit(self.parse::<$ty>()?)
        })*
    };
}

impl<'de> de::Deserializer<'de> for Values<'_> {
    type Error = BadReply;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BadReply> {
        visitor.visit_str(self.first())
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BadReply> {
        match self.first() {
            "1" => visitor.visit_bool(true),
            "0" | "" => visitor.visit_bool(false),
            other => Err(BadReply(format!("{other:?} is not 1 or 0"))),
        }
    }

    parse_numbers!(
        deserialize_u8 visit_u8 u8, deserialize_u16 visit_u16 u16, deserialize_u32 visit_u32 u32,
        deserialize_u64 visit_u64 u64, deserialize_i8 visit_i8 i8, deserialize_i16 visit_i16 i16,
        deserialize_i32 visit_i32 i32, deserialize_i64 visit_i64 i64
    );

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BadReply> {
        visitor.visit_some(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BadReply> {
        let key = self.key;
        let items: Vec<Values> = self
            .values
            .iter()
            .map(|v| Values {
                key,
                values: vec![*v],
            })
            .collect();
        visitor.visit_seq(de::value::SeqDeserializer::<_, BadReply>::new(
            items.into_iter(),
        ))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, BadReply> {
        let word: de::value::StrDeserializer<'_, BadReply> = self.first().into_deserializer();
        de::Deserializer::deserialize_enum(word, name, variants, visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BadReply> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        i128 u128 f32 f64 char str string bytes byte_buf unit unit_struct newtype_struct
        tuple tuple_struct map struct identifier
    }
}

impl<'de> IntoDeserializer<'de, BadReply> for Values<'_> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

/// The fields of a reply struct, as serde names them (for the protocol test).
#[cfg(test)]
pub(crate) fn fields<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Fields(&'static [&'static str]);
    impl<'de> de::Deserializer<'de> for &mut Fields {
        type Error = BadReply;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, BadReply> {
            Err(BadReply("not a struct".into()))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, BadReply> {
            self.0 = fields;
            Err(BadReply("fields read".into()))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    let mut f = Fields(&[]);
    let _ = T::deserialize(&mut f);
    f.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        text.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn replies_are_typed_lists_fill_and_the_first_value_counts() {
        let p = pairs("outcome=installed\ncommitting=1\nlen=12\nfile_mode=-rw-------\nnoise=x\noutcome=skipped\n");
        let install: Install = from_pairs(&p).unwrap();
        assert_eq!(install.outcome, Some(Outcome::Installed));
        assert!(install.committing);
        assert_eq!(install.len.as_deref(), Some("12"));
        let p = pairs("cleaned=/a\ncodex_running=2\ncleaned=/b\nlock=none\n");
        let notes: Notes = from_pairs(&p).unwrap();
        assert_eq!(notes.cleaned, ["/a", "/b"]);
        assert_eq!(notes.codex_running, Some(2));
        assert_eq!(notes.lock, Some(Lock::None));
        let end: End = from_pairs(&pairs("error=who-knows\nend=1\n")).unwrap();
        assert_eq!((end.error, end.end), (Some(Failure::Unknown), true));
    }

    #[test]
    fn a_value_that_does_not_parse_is_an_error_naming_its_key() {
        let e = from_pairs::<Notes>(&pairs("codex_running=many\n")).unwrap_err();
        assert_eq!(e.0, "codex_running: \"many\" is not a number");
        assert!(from_pairs::<Install>(&pairs("outcome=exploded\n")).is_err());
        assert!(from_pairs::<End>(&pairs("end=yes\n")).is_err());
        assert_eq!(fields::<Remove>(), ["outcome", "backup", "auth_len", "sum"]);
    }
}
