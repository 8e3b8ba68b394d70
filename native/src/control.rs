//! The runner's control messages to and from its node processes: one line of text each, carried
//! in a `Packet::Control` datagram on loopback. Text, so a trace of them (`native run -v`) reads
//! as it is.
//!
//! ```text
//! node -> runner   hello ID PORT                 bound PORT, waiting for its peers
//!                  state ID ROLE TERM COMMIT SENT  after any change of role, term or commit
//!                                                index (SENT: messages sent in this life)
//!                  commit-latency ID NS...       on stop: the commit latencies it timed as leader
//! runner -> node   peers A0 .. An-1 CLIENTS      the nodes' and the clients' addresses (IP:PORT)
//!                  block A>B A>B ...             drop messages from A to B (none: healed)
//!                  loss P                        drop each message sent with probability P
//!                  stop                          sync and exit 0
//! ```

use std::net::SocketAddr;

use models::raft::{NodeId, Role, Term};

/// A control message.
#[derive(Debug, Clone, PartialEq)]
pub enum Control {
    Hello {
        id: NodeId,
        port: u16,
    },
    State {
        id: NodeId,
        role: Role,
        term: Term,
        commit: u64,
        sent: u64,
    },
    CommitLatency {
        id: NodeId,
        ns: Vec<u64>,
    },
    Peers {
        nodes: Vec<SocketAddr>,
        clients: SocketAddr,
    },
    Block(Vec<(NodeId, NodeId)>),
    Loss(f64),
    Stop,
}

fn role_word(r: Role) -> &'static str {
    match r {
        Role::Follower => "follower",
        Role::PreCandidate => "precandidate",
        Role::Candidate => "candidate",
        Role::Leader => "leader",
    }
}

fn parse_role(w: &str) -> Option<Role> {
    Some(match w {
        "follower" => Role::Follower,
        "precandidate" => Role::PreCandidate,
        "candidate" => Role::Candidate,
        "leader" => Role::Leader,
        _ => return None,
    })
}

impl Control {
    pub fn to_line(&self) -> String {
        match self {
            Control::Hello { id, port } => format!("hello {id} {port}"),
            Control::State {
                id,
                role,
                term,
                commit,
                sent,
            } => format!("state {id} {} {term} {commit} {sent}", role_word(*role)),
            Control::CommitLatency { id, ns } => {
                let mut s = format!("commit-latency {id}");
                for v in ns {
                    s.push_str(&format!(" {v}"));
                }
                s
            }
            Control::Peers { nodes, clients } => {
                let ports: Vec<String> = nodes.iter().map(|p| p.to_string()).collect();
                format!("peers {} {clients}", ports.join(" "))
            }
            Control::Block(pairs) => {
                let mut s = "block".to_string();
                for (a, b) in pairs {
                    s.push_str(&format!(" {a}>{b}"));
                }
                s
            }
            Control::Loss(p) => format!("loss {p}"),
            Control::Stop => "stop".to_string(),
        }
    }

    /// Parses one line; None for anything malformed (a control datagram is never trusted).
    pub fn parse(line: &str) -> Option<Control> {
        let mut w = line.split_ascii_whitespace();
        let verb = w.next()?;
        let c = match verb {
            "hello" => Control::Hello {
                id: w.next()?.parse().ok()?,
                port: w.next()?.parse().ok()?,
            },
            "state" => Control::State {
                id: w.next()?.parse().ok()?,
                role: parse_role(w.next()?)?,
                term: w.next()?.parse().ok()?,
                commit: w.next()?.parse().ok()?,
                sent: w.next()?.parse().ok()?,
            },
            "commit-latency" => {
                let id = w.next()?.parse().ok()?;
                let ns = w.map(|v| v.parse().ok()).collect::<Option<_>>()?;
                return Some(Control::CommitLatency { id, ns });
            }
            "peers" => {
                let mut ports: Vec<SocketAddr> =
                    w.map(|p| p.parse().ok()).collect::<Option<_>>()?;
                let clients = ports.pop()?;
                return Some(Control::Peers {
                    nodes: ports,
                    clients,
                });
            }
            "block" => {
                let pairs = w
                    .map(|p| {
                        let (a, b) = p.split_once('>')?;
                        Some((a.parse().ok()?, b.parse().ok()?))
                    })
                    .collect::<Option<_>>()?;
                return Some(Control::Block(pairs));
            }
            "loss" => {
                let p: f64 = w.next()?.parse().ok()?;
                if !(0.0..=1.0).contains(&p) {
                    return None;
                }
                Control::Loss(p)
            }
            "stop" => Control::Stop,
            _ => return None,
        };
        if w.next().is_some() {
            return None;
        }
        Some(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_round_trips_and_junk_is_refused() {
        let all = [
            Control::Hello { id: 3, port: 40001 },
            Control::State {
                id: 1,
                role: Role::Leader,
                term: 7,
                commit: 99,
                sent: 1234,
            },
            Control::CommitLatency {
                id: 2,
                ns: vec![1, 20, 300],
            },
            Control::CommitLatency { id: 0, ns: vec![] },
            Control::Peers {
                nodes: vec![
                    "127.0.0.1:1".parse().unwrap(),
                    "10.213.7.2:40000".parse().unwrap(),
                ],
                clients: "10.213.7.254:9".parse().unwrap(),
            },
            Control::Block(vec![(0, 1), (2, 0)]),
            Control::Block(vec![]),
            Control::Loss(0.005),
            Control::Stop,
        ];
        for c in all {
            assert_eq!(Control::parse(&c.to_line()), Some(c.clone()), "{c:?}");
        }
        for junk in [
            "",
            "hello",
            "hello x 1",
            "hello 1 70000",
            "state 1 king 2 3 4",
            "state 1 leader 2 3",
            "commit-latency 1 x",
            "peers",
            "peers 1 2",
            "block 1-2",
            "loss 2",
            "stop now",
            "rm -rf",
        ] {
            assert_eq!(Control::parse(junk), None, "{junk}");
        }
    }
}
