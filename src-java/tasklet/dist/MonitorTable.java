package tasklet.dist;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import tasklet.kernel.Pid;
import tasklet.kernel.Ref;

/**
 * The monitors that cross each peer's connection, keyed by peer name: those
 * this node's tasklets hold on the peer's pids and names ({@code mine}: a
 * lost connection fires them with {@code :noconnection}), and those the
 * peer's tasklets hold on this node's ({@code watched}: dropped from their
 * targets when the connection is lost). A monitor is in {@code mine} from
 * the MONITOR frame until its DOWN arrives, the watcher demonitors, or the
 * connection goes: a DOWN for a ref not there is dropped. Any thread.
 */
final class MonitorTable {
  /** A monitor of this node's {@code watcher} on the peer's {@code dest} (a pid or [name node]). */
  record Watch(Pid watcher, Object dest) {}

  private final ConcurrentHashMap<String, ConcurrentHashMap<Ref, Watch>> mine = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, ConcurrentHashMap<Ref, Pid>> watched = new ConcurrentHashMap<>();

  private static <V> ConcurrentHashMap<Ref, V> sub(ConcurrentHashMap<String, ConcurrentHashMap<Ref, V>> m,
                                                 String peer) {
    return m.computeIfAbsent(peer, k -> new ConcurrentHashMap<>());
  }

  void addMine(String peer, Ref ref, Pid watcher, Object dest) { sub(mine, peer).put(ref, new Watch(watcher, dest)); }

  /** Removes monitor {@code ref} of this node on {@code peer}; the watch, or null when it was not there. */
  Watch takeMine(String peer, Ref ref) {
    ConcurrentHashMap<Ref, Watch> m = mine.get(peer);
    return m == null ? null : m.remove(ref);
  }

  void addWatched(String peer, Ref ref, Pid target) { sub(watched, peer).put(ref, target); }

  /** Removes the peer's monitor {@code ref} of a local target; the target, or null. */
  Pid takeWatched(String peer, Ref ref) {
    ConcurrentHashMap<Ref, Pid> m = watched.get(peer);
    return m == null ? null : m.remove(ref);
  }

  /** Removes and returns this node's monitors on {@code peer}. */
  Map<Ref, Watch> takeAllMine(String peer) {
    ConcurrentHashMap<Ref, Watch> m = mine.remove(peer);
    return m == null ? Map.of() : m;
  }

  /** Removes and returns the peer's monitors of local targets. */
  Map<Ref, Pid> takeAllWatched(String peer) {
    ConcurrentHashMap<Ref, Pid> m = watched.remove(peer);
    return m == null ? Map.of() : m;
  }

  /** This node's monitors on {@code peer} now, as [ref watcher dest] triples (tests and tools). */
  List<Object[]> mineOf(String peer) {
    ConcurrentHashMap<Ref, Watch> m = mine.get(peer);
    return m == null ? List.of()
        : m.entrySet().stream().map(e -> new Object[] {e.getKey(), e.getValue().watcher(), e.getValue().dest()}).toList();
  }

  /** The peer's monitors of local targets now, ref -> target (tests and tools). */
  Map<Ref, Pid> watchedOf(String peer) {
    ConcurrentHashMap<Ref, Pid> m = watched.get(peer);
    return m == null ? Map.of() : Map.copyOf(m);
  }
}
