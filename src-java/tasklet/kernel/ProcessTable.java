package tasklet.kernel;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * A node's live tasklets by pid serial: Erlang's process table.
 *
 * <pre>
 * Implementation notes
 * --------------------
 * Why not a ConcurrentHashMap: its entry object and table slot cost about 40
 * bytes per tasklet, a sixth of what a waiting tasklet weighs in all, for a
 * table that is written twice per tasklet (spawn, end) and read rarely (pids
 * that arrive without their cached tasklet, process listings). Here a tasklet
 * costs one slot of an open-addressing array, about 8 bytes at the load
 * factors kept (3/8 to 3/4).
 *
 * Layout: SEGMENTS independent linear-probing tables, chosen by the serial's
 * low bits (serials are consecutive, so segments fill evenly), each guarded by
 * its own monitor, held only for a probe sequence. The key is the tasklet's
 * own pid serial, so a slot holds just the Tasklet. Removal shifts the
 * following entries of the probe run back (no tombstones), and a segment
 * shrinks again when it falls below an eighth full, so a burst of a million
 * short-lived tasklets does not leave megabytes behind.
 * </pre>
 */
final class ProcessTable {
  private static final int SEGMENT_BITS = 6;
  private static final int SEGMENTS = 1 << SEGMENT_BITS;
  private static final int MIN_CAPACITY = 8;

  private static final class Segment {
    Tasklet[] slots = new Tasklet[MIN_CAPACITY];
    int count;
  }

  private final Segment[] segments = new Segment[SEGMENTS];

  ProcessTable() {
    for (int i = 0; i < SEGMENTS; i++) segments[i] = new Segment();
  }

  private static Segment segmentOf(Segment[] segs, long serial) {
    return segs[(int) serial & (SEGMENTS - 1)];
  }

  /** Home slot of a serial in a table of {@code length} (a power of two): Fibonacci hashing. */
  private static int home(long serial, int length) {
    return (int) (((serial >>> SEGMENT_BITS) * 0x9E3779B97F4A7C15L) >>> (64 - Integer.numberOfTrailingZeros(length)));
  }

  /** Add a tasklet; its serial must be new to this table. Any thread. */
  void add(Tasklet t) {
    Segment s = segmentOf(segments, t.pid.serial);
    synchronized (s) {
      if ((s.count + 1) * 4 > s.slots.length * 3) s.slots = rehash(s.slots, s.slots.length * 2);
      insert(s.slots, t);
      s.count++;
    }
  }

  /** Remove a tasklet (by identity); nothing happens when it is absent. Any thread. */
  void remove(Tasklet t) {
    Segment s = segmentOf(segments, t.pid.serial);
    synchronized (s) {
      Tasklet[] a = s.slots;
      int mask = a.length - 1;
      int i = home(t.pid.serial, a.length);
      while (a[i] != null && a[i] != t) i = (i + 1) & mask;
      if (a[i] == null) return;
      shiftBack(a, i);
      s.count--;
      if (a.length > MIN_CAPACITY && s.count * 8 < a.length) s.slots = rehash(a, a.length / 2);
    }
  }

  /** The tasklet with this serial, or null. Any thread. */
  Tasklet get(long serial) {
    Segment s = segmentOf(segments, serial);
    synchronized (s) {
      Tasklet[] a = s.slots;
      int mask = a.length - 1;
      for (int i = home(serial, a.length); a[i] != null; i = (i + 1) & mask) {
        if (a[i].pid.serial == serial) return a[i];
      }
      return null;
    }
  }

  /** Number of tasklets in the table: exact when no spawn or end races it. Any thread. */
  int size() {
    int n = 0;
    for (Segment s : segments) {
      synchronized (s) { n += s.count; }
    }
    return n;
  }

  /** Call {@code f} on a snapshot of the table's tasklets, a segment at a time. Any thread. */
  void forEach(Consumer<Tasklet> f) {
    List<Tasklet> batch = new ArrayList<>();
    for (Segment s : segments) {
      batch.clear();
      synchronized (s) {
        for (Tasklet t : s.slots) if (t != null) batch.add(t);
      }
      batch.forEach(f);
    }
  }

  private static void insert(Tasklet[] a, Tasklet t) {
    int mask = a.length - 1;
    int i = home(t.pid.serial, a.length);
    while (a[i] != null) i = (i + 1) & mask;
    a[i] = t;
  }

  private static Tasklet[] rehash(Tasklet[] old, int capacity) {
    Tasklet[] a = new Tasklet[capacity];
    for (Tasklet t : old) if (t != null) insert(a, t);
    return a;
  }

  /**
   * Empty slot {@code i} and move later members of its probe run back, so that
   * every entry stays reachable from its home slot without tombstones.
   */
  private static void shiftBack(Tasklet[] a, int i) {
    int mask = a.length - 1;
    int hole = i;
    for (int j = (i + 1) & mask; a[j] != null; j = (j + 1) & mask) {
      int h = home(a[j].pid.serial, a.length);
      // move a[j] into the hole unless its home lies cyclically in (hole, j]
      boolean homeBetween = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
      if (!homeBetween) {
        a[hole] = a[j];
        hole = j;
      }
    }
    a[hole] = null;
  }
}
