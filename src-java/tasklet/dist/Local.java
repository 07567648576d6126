package tasklet.dist;

import tasklet.kernel.Node;
import tasklet.kernel.NodeTable;
import tasklet.kernel.Pid;
import tasklet.kernel.Tasklet;

/**
 * What the protocol may touch of the kernel: the tasklets its node reaches
 * directly (its own, and those of an undistributed node of this JVM; see
 * Node#remoteFor). A frame's target of any other node is dropped, never
 * forwarded. Any thread.
 */
final class Local {
  final Node node;

  Local(Node node) { this.node = node; }

  /** The live tasklet of {@code p} if this node reaches it directly, else null. */
  Tasklet tasklet(Pid p) {
    return node.remoteFor(p) == null ? NodeTable.resolve(p) : null;
  }

  /**
   * Whether {@code p} is a pid of this node's own incarnation: the only
   * targets a peer's frame may name.
   */
  boolean own(Pid p) {
    return p.incarnation == node.incarnation && p.node.equals(node.name);
  }

  /** The live tasklet of {@code p} when it is this node's own, else null. */
  Tasklet ownTasklet(Pid p) {
    return own(p) ? NodeTable.resolve(p) : null;
  }

  /**
   * Puts {@code msg} in the mailbox of {@code p} when this node reaches it
   * directly; dropped otherwise. No reduction, no exit check: the callers
   * are the transport's threads and tasklets that hold no lock.
   */
  void deliver(Pid p, Object msg) {
    if (node.remoteFor(p) == null) Node.deliver(p, msg);
  }
}
