package tasklet.dist;

import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import tasklet.kernel.Pid;

/**
 * The links between this node's tasklets and each peer's, keyed by peer
 * name: what a lost connection turns into {@code :noconnection} exit
 * signals. The kernel keeps each tasklet's own half (its link set); this
 * table only knows which pairs cross which connection. Any thread.
 */
final class LinkTable {
  /** One link across a connection: {@code local} of this node, {@code remote} of the peer. */
  record Link(Pid local, Pid remote) {}

  private final ConcurrentHashMap<String, Set<Link>> byPeer = new ConcurrentHashMap<>();

  void add(String peer, Pid local, Pid remote) {
    byPeer.computeIfAbsent(peer, k -> ConcurrentHashMap.newKeySet()).add(new Link(local, remote));
  }

  void remove(String peer, Pid local, Pid remote) {
    Set<Link> s = byPeer.get(peer);
    if (s != null) s.remove(new Link(local, remote));
  }

  /** Removes and returns every link across the connection to {@code peer}. */
  List<Link> takeAll(String peer) {
    Set<Link> s = byPeer.remove(peer);
    return s == null ? List.of() : List.copyOf(s);
  }

  /** The links to {@code peer} now (tests and tools). */
  List<Link> of(String peer) {
    Set<Link> s = byPeer.get(peer);
    return s == null ? List.of() : List.copyOf(s);
  }
}
