/**
 * The tasklet kernel: processes ("tasklets"), their mailboxes, strands and the
 * scheduler. Pure Java; it sees Clojure only as {@code clojure.lang.IFn} and
 * through the small interfaces that the Clojure layer installs
 * ({@link tasklet.kernel.Terms}, {@link tasklet.kernel.Context},
 * {@link tasklet.kernel.CrashHandler}); other nodes it sees through
 * {@link tasklet.kernel.Distribution}, which the node protocol
 * ({@code tasklet.dist}, Java) implements.
 *
 * <h2>Access-mode vocabulary</h2>
 * Lock-free code names each shared access by its memory ordering, in the
 * JCTools manner, so that a line reads as the ordering it relies on:
 * <ul>
 *   <li>{@code lv}/{@code sv}: volatile load / store (sequentially consistent);</li>
 *   <li>{@code la}/{@code sr}: acquire load / release store ("lazy set");</li>
 *   <li>{@code lp}/{@code sp}: plain load / store, owner thread only;</li>
 *   <li>{@code cas}/{@code xchg}: compare-and-set / get-and-set (volatile semantics).</li>
 * </ul>
 * A method's javadoc says who may call it: "Any thread.", "Owner only." (the
 * tasklet itself, or the worker that owns a run queue), "Worker only.".
 */
package tasklet.kernel;
