//! sim's models: sans-IO state machines driven by `simcore`, one module per family, each with a
//! schema ([`schema`]) that tells the scenario checker what its blocks look like.

pub mod cache;
pub mod cloud;
pub mod cpu;
pub mod disk;
pub mod lincheck;
pub mod network;
pub mod queueing;
pub mod raft;
pub mod schema;
pub mod storage;
pub mod world;

/// Every model family a scenario can use. The world comes first: its hosts and network are what
/// the other families' services are placed on and talk over.
pub const MODELS: &[&schema::ModelSpec] = &[
    &world::schema::SCHEMA,
    &queueing::schema::SCHEMA,
    &raft::schema::SCHEMA,
    &cpu::schema::SCHEMA,
    &disk::schema::SCHEMA,
    &storage::schema::SCHEMA,
    &cache::schema::SCHEMA,
    &cloud::schema::SCHEMA,
];

#[cfg(test)]
mod tests {
    use super::MODELS;
    use crate::schema::ArgSpec;

    /// The parser splits actions by their verbs' arguments before it knows which families a
    /// scenario uses, so one verb takes the same arguments in every family that declares it.
    #[test]
    fn a_verb_takes_the_same_arguments_in_every_family() {
        for a in MODELS.iter().flat_map(|m| m.verbs) {
            for b in MODELS.iter().flat_map(|m| m.verbs) {
                if a.name == b.name {
                    assert_eq!(
                        a.args, b.args,
                        "`{}` is declared twice, differently",
                        a.name
                    );
                }
            }
        }
    }

    /// What the checker needs of a verb's arguments: a `ValueOf` follows a `Word` whose words it
    /// types, a `Property` follows a `Component` and a `PropertyValue` a `Property`.
    #[test]
    fn verbs_arguments_refer_to_arguments_before_them() {
        for v in MODELS.iter().flat_map(|m| m.verbs) {
            for (i, arg) in v.args.iter().enumerate() {
                let before = &v.args[..i];
                match arg {
                    ArgSpec::ValueOf(types) => {
                        let words = before.iter().find_map(|a| match a {
                            ArgSpec::Word(w) => Some(*w),
                            _ => None,
                        });
                        let words = words.unwrap_or_else(|| panic!("`{}`: no word", v.name));
                        for w in words {
                            assert!(types.iter().any(|(t, _)| t == w), "`{}` {w}", v.name);
                        }
                    }
                    ArgSpec::Property => assert_eq!(before.last(), Some(&ArgSpec::Component)),
                    ArgSpec::PropertyValue => {
                        assert_eq!(before.last(), Some(&ArgSpec::Property))
                    }
                    _ => {}
                }
            }
        }
    }
}
