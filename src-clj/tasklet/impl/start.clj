(ns ^:no-doc tasklet.impl.start
  "Synchronous start (OTP's proc_lib start_link/init_ack): the starter spawns
  the new tasklet and waits until it acknowledges that its init is done, or
  failed, or it died first. tasklet.server, tasklet.statem and
  tasklet.supervisor start this way, and a supervisor waits for such a
  child's acknowledgement before it starts the next one.

  The protocol: `start-sync` binds `*starter*` around the spawn; the new
  tasklet `claim-starter`s it first thing, runs its init, then `ack!`s :ok,
  or calls `init-failed!` (which acks [:error e]) and ends. The starter
  takes [tag :ok], [tag [:error e]] or the :DOWN of its spawn monitor.
  Internal, stable for the library's own behaviours."
  (:require [tasklet.core :as t :refer [! self receive]]
            [tasklet.impl.error :refer [exit-error]]
            [tasklet.impl.process :as process]))

(set! *warn-on-reflection* true)

(def ^:dynamic *starter*
  "While a synchronous start spawns: [starter-pid tag linked? claimed]. The
  new tasklet gets it with the caller's other bindings; `claim-starter` takes
  it once (claimed is an atom), so the tasklets that the new one spawns
  later, which inherit the binding, never answer the starter."
  nil)

(defn claim-starter
  "The starter waiting for this tasklet's start, claimed, or nil. A claim
  rather than a (binding [*starter* nil] ...) around the server's life: a
  binding held across receive does not yet reliably follow a tasklet between
  workers on the continuation strand."
  []
  (let [s *starter*]
    (when (and s (compare-and-set! (nth s 3) false true))
      s)))

(defn starter-parent
  "The starter's pid when it start-linked the caller (the starter of a
  linked `start-sync`), else nil. Stale once the link is gone."
  [starter]
  (when (nth starter 2 false) (nth starter 0)))

(def ^:private acking-fns
  "The start functions that perform the start handshake (by identity)."
  (atom #{}))

(defn acking!
  "Declare that start function f performs the start handshake (it claims the
  starter and acks); returns f."
  [f]
  (swap! acking-fns conj f)
  f)

(defn acks-start?
  "True when start function f (a fn or a var) performs the start handshake, as
  tasklet.server/run, tasklet.statem/run and tasklet.supervisor/run do: a
  supervisor waits for such a child's init before it starts the next one."
  [f]
  (contains? @acking-fns (if (var? f) @f f)))

(defn- await-down [mref]
  (receive [:DOWN mref :process _ _] nil))

(defn- forget-monitor
  "Remove monitor `mref` on `target` and make sure its [:DOWN ...] never
  lands in the caller's mailbox, without scanning the mailbox in the common
  case (a live target). A target seen dead before the demonitor has already
  committed to sending the :DOWN, so it is awaited. One window stays open in
  the kernel: a target that dies during the demonitor itself may still
  deliver its :DOWN after the flush."
  [mref target]
  (if (process/local-pid? target)
    (if (t/alive? target)
      (do (t/demonitor mref)
          (when-not (t/alive? target) (t/demonitor mref {:flush true})))
      (await-down mref))
    (t/demonitor mref {:flush true})))

(defn start-sync
  "Spawn (apply f args), linked when link?, and wait until it has acknowledged
  its start. Returns the pid; throws what its init threw, or its exit reason if
  it ended before acknowledging. f must perform the handshake (`acks-start?`)."
  [f args link?]
  (let [tag (t/make-ref)
        [pid mref] (binding [*starter* [(self) tag link? (atom false)]]
                     (t/spawn-fn f args {:link link? :monitor true}))]
    (receive
      [tag :ok] (do (forget-monitor mref pid) pid)
      [tag [:error e]] (do (await-down mref) (throw e))
      [:DOWN mref :process _ reason] (throw (exit-error reason pid nil)))))

(defn ack!
  "Tell starter (claimed, or nil: then nothing) msg: :ok, or [:error e] with
  e the exception its start throws."
  [starter msg]
  (when starter
    (! (nth starter 0) [(nth starter 1) msg])))

(defn init-failed!
  "Init threw, and start should throw e (a Throwable): free the name (when
  the caller holds it), unlink a linked starter (start throws instead of
  killing it), and ack [:error e]. The caller then ends as its behaviour
  does; by exit rather than a throw when it told a starter, whose rethrow is
  the crash's one report."
  [starter name e]
  (when (and name (= (self) (t/whereis name)))
    (t/unregister name))
  (when-let [p (starter-parent starter)]
    (t/unlink p))
  (ack! starter [:error e]))
