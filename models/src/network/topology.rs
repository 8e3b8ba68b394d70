//! Which hosts are wired to which: a graph (petgraph) whose edges are links. Hosts that are not
//! neighbours talk over the shortest path, one link latency per hop; hosts with no path between
//! them cannot talk at all.
//!
//! The shapes are the usual ones for small clusters: a full mesh (every pair wired, the default),
//! a ring, a star around the first host, and a line. Clients (hosts beyond the servers) are wired
//! to every server directly, as a client on the control network would be; they never relay
//! messages between servers.

use petgraph::algo::dijkstra;
use petgraph::graph::{NodeIndex, UnGraph};

use super::partition::Host;

/// How the servers are wired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Topology {
    #[default]
    FullMesh,
    /// Each server wired to the next, the last to the first.
    Ring,
    /// Every server wired to the first.
    Star,
    /// Each server wired to the next.
    Line,
}

impl Topology {
    /// The names a scenario uses.
    pub const NAMES: &'static [&'static str] = &["full-mesh", "ring", "star", "line"];

    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "full-mesh" => Topology::FullMesh,
            "ring" => Topology::Ring,
            "star" => Topology::Star,
            "line" => Topology::Line,
            _ => return None,
        })
    }

    /// The graph of `servers` servers.
    pub fn graph(self, servers: u32) -> UnGraph<Host, ()> {
        let mut g = UnGraph::with_capacity(servers as usize, 0);
        let ids: Vec<NodeIndex> = (0..servers).map(|h| g.add_node(h)).collect();
        let s = servers as usize;
        let mut wire = |a: usize, b: usize| {
            if a != b && g.find_edge(ids[a], ids[b]).is_none() {
                g.add_edge(ids[a], ids[b], ());
            }
        };
        match self {
            Topology::FullMesh => {
                for a in 0..s {
                    for b in a + 1..s {
                        wire(a, b);
                    }
                }
            }
            Topology::Ring | Topology::Line => {
                for a in 0..s.saturating_sub(1) {
                    wire(a, a + 1);
                }
                if self == Topology::Ring && s > 2 {
                    wire(s - 1, 0);
                }
            }
            Topology::Star => {
                for a in 1..s {
                    wire(0, a);
                }
            }
        }
        g
    }

    /// Hops between every ordered pair of hosts, row-major (`hops[from * hosts + to]`): 0 to
    /// itself, [`UNREACHABLE`] with no path.
    pub fn hops(self, servers: u32, clients: u32) -> Vec<u32> {
        let g = self.graph(servers);
        let hosts = (servers + clients) as usize;
        let s = servers as usize;
        let mut out = vec![UNREACHABLE; hosts * hosts];
        for from in g.node_indices() {
            let dist = dijkstra(&g, from, None, |_| 1u32);
            for (to, d) in dist {
                out[from.index() * hosts + to.index()] = d;
            }
        }
        for c in s..hosts {
            out[c * hosts + c] = 0;
            for a in 0..s {
                out[c * hosts + a] = 1;
                out[a * hosts + c] = 1;
            }
        }
        out
    }
}

/// No path between two hosts.
pub const UNREACHABLE: u32 = u32::MAX;

#[cfg(test)]
mod tests {
    use super::*;

    fn row(t: Topology, from: usize) -> Vec<u32> {
        let h = t.hops(5, 1);
        h[from * 6..from * 6 + 6].to_vec()
    }

    #[test]
    fn shapes_give_shortest_paths() {
        assert_eq!(row(Topology::FullMesh, 0), [0, 1, 1, 1, 1, 1]);
        assert_eq!(row(Topology::Ring, 0), [0, 1, 2, 2, 1, 1]);
        assert_eq!(row(Topology::Line, 0), [0, 1, 2, 3, 4, 1]);
        assert_eq!(row(Topology::Star, 1), [1, 0, 2, 2, 2, 1]);
        // The client reaches every server in one hop.
        assert_eq!(row(Topology::Line, 5), [1, 1, 1, 1, 1, 0]);
    }

    #[test]
    fn names_round_trip() {
        for name in Topology::NAMES {
            assert!(Topology::from_name(name).is_some(), "{name}");
        }
        assert_eq!(Topology::from_name("torus"), None);
    }
}
