package tasklet.kernel;

/**
 * A process identifier: an immutable value naming one tasklet on one node
 * incarnation. Equality is by (node, serial, incarnation) only, so a pid read
 * back from its printed form or from the wire equals the original.
 *
 * <p>A pid made by this JVM also carries a direct reference to its tasklet (not
 * part of its value), so a local send costs no table lookup. Pids that arrive
 * from elsewhere resolve through their node's process table on first use.
 */
public final class Pid {
  public final String node;       // node name ("nonode" until distribution starts)
  public final long serial;       // unique per node incarnation
  // distinguishes restarts of a node with the same name: 32 bits, as OTP's creation (a pid is
  // 32 bytes with it, a long made it 40: a waiting tasklet keeps one, see ADR 0011)
  public final int incarnation;
  transient Tasklet tasklet;      // local target, cached; benign race (idempotent)

  /** A pid as read or received; it resolves lazily. Any thread. */
  public Pid(String node, long serial, int incarnation) {
    this.node = node;
    this.serial = serial;
    this.incarnation = incarnation;
  }

  Pid(String node, long serial, int incarnation, Tasklet t) {
    this(node, serial, incarnation);
    this.tasklet = t;
  }

  @Override public boolean equals(Object o) {
    if (this == o) return true;
    if (!(o instanceof Pid p)) return false;
    return serial == p.serial && incarnation == p.incarnation && node.equals(p.node);
  }

  @Override public int hashCode() {
    return Long.hashCode(serial * 31 + incarnation) ^ node.hashCode();
  }

  @Override public String toString() {
    return "#tasklet/pid [:" + node + " " + serial + " " + incarnation + "]";
  }
}
