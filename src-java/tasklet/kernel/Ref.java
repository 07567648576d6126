package tasklet.kernel;

/**
 * A unique reference (Erlang's make_ref): names a monitor or tags a request so
 * that its reply can be told apart. An immutable value, unique per node
 * incarnation.
 */
public final class Ref {
  public final String node;
  public final long id;
  public final int incarnation;   // its node's: 32 bits, as a pid's

  /** Any thread. */
  public Ref(String node, long id, int incarnation) {
    this.node = node;
    this.id = id;
    this.incarnation = incarnation;
  }

  @Override public boolean equals(Object o) {
    if (this == o) return true;
    if (!(o instanceof Ref r)) return false;
    return id == r.id && incarnation == r.incarnation && node.equals(r.node);
  }

  @Override public int hashCode() {
    return Long.hashCode(id * 31 + incarnation) ^ node.hashCode();
  }

  @Override public String toString() {
    return "#tasklet/ref [:" + node + " " + id + " " + incarnation + "]";
  }
}
