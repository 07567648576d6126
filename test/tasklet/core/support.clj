(ns tasklet.core.support
  "Helpers shared by the tasklet.core.*-test namespaces (no tests here).

  Every wait is bounded: a test that waits for a message, a promise or a
  condition gives up after `wait-ms` and fails, instead of hanging the suite.
  Nothing sleeps to synchronise: tests wait for messages, monitors, promises,
  or (in `eventually`) for an observable condition with a deadline.

  Assertions (`is`) stay on the test thread: tasklets and helper threads
  return or send values, and the test thread checks them."
  (:require [tasklet.core :as t :refer [! receive self spawn monitor]])
  (:import [java.util.concurrent TimeUnit]))

(set! *warn-on-reflection* true)

(def ^:const wait-ms
  "How long any single wait in these tests may take before the test fails."
  5000)

(defmacro recv
  "`receive` with these clauses that throws ex-info {::timeout patterns} when
  nothing matches within `wait-ms`."
  [& clauses]
  `(receive ~@clauses
            (~'after wait-ms
             (throw (ex-info (str "test timed out waiting for " '~(vec (take-nth 2 clauses)))
                             {::timeout '~(vec (take-nth 2 clauses))})))))

(defn tag
  "A fresh unique value to tag a request and match its reply by value."
  []
  (t/make-ref))

(defn wait
  "Deref p for at most wait-ms; ::timeout when it was not delivered."
  [p]
  (deref p wait-ms ::timeout))

(defn await-down
  "The reason in the [:DOWN ref :process _ reason] for ref, waiting wait-ms."
  [ref]
  (recv [:DOWN ref :process _ reason] reason))

(defn no-message?
  "True when no message matching (pred msg) is in the caller's mailbox now."
  [pred]
  (= ::none (t/receive-fn (fn [m] (when (pred m) [m])) 0 ::none)))

(defn eventually
  "Polls (f) until it is truthy or wait-ms pass; returns whether it became
  true. For conditions that no message announces (a tasklet has parked in
  receive, a message has landed). Between polls it waits 1 ms in a receive
  with no clauses, which touches no message and works in a tasklet too."
  [f]
  (let [deadline (+ (System/nanoTime) (* wait-ms 1000000))]
    (loop []
      (cond
        (f) true
        (> (System/nanoTime) deadline) false
        :else (do (receive (after 1 nil)) (recur))))))

(defn waiting?
  "True when pid is parked in receive (process-info :status :waiting)."
  [pid]
  (= :waiting (:status (t/process-info pid))))

(defn in-thread
  "Run f on a brand-new platform thread (a fresh pid and an empty mailbox),
  conveying bindings; returns its value or rethrows what it threw. Fails
  with ex-info ::timeout if it does not finish within wait-ms."
  [f]
  (let [p (promise)
        g (bound-fn* f)
        th (Thread. ^Runnable (fn [] (deliver p (try [:ok (g)] (catch Throwable e [:err e]))))
                    "tasklet-core-test-thread")]
    (.setDaemon th true)
    (.start th)
    (let [[k v] (deref p wait-ms [:timeout nil])]
      (case k
        :ok v
        :err (throw v)
        :timeout (throw (ex-info "test thread did not finish in time" {::timeout true}))))))

;; ---------------------------------------------------------------------------
;; A probe: a tasklet that the tests drive with messages.

(defn probe
  "Tasklet body. Sets trap-exit to trap?, tells owner [:ready ready-tag], then
  serves:
    [:ping from tag]  -> sends from [:pong tag]
    [:link pid tag]   -> links to pid, sends owner [:linked tag]
    [:unlink pid tag] -> unlinks pid, sends owner [:unlinked tag]
    [:exit reason]    -> (exit reason)
    [:throw e]        -> throws e
    [:return v]       -> returns v (ends :normal)
    anything else     -> forwards [:got (self) msg] to owner (e.g. [:EXIT ...])."
  [owner ready-tag trap?]
  (t/trap-exit! trap?)
  (! owner [:ready ready-tag])
  (loop []
    (receive
      [:ping from tg] (do (! from [:pong tg]) (recur))
      [:link p tg] (do (t/link p) (! owner [:linked tg]) (recur))
      [:unlink p tg] (do (t/unlink p) (! owner [:unlinked tg]) (recur))
      [:exit reason] (t/exit reason)
      [:throw e] (throw e)
      [:return v] v
      m (do (! owner [:got (self) m]) (recur)))))

(defn start-probe
  "Spawn a probe owned by the caller and wait until it runs; returns its pid.
  opts: :trap (default false)."
  ([] (start-probe {}))
  ([{:keys [trap]}]
   (let [tg (tag)
         p (spawn probe (self) tg (boolean trap))]
     (recv [:ready tg] p))))

(defn link-probes
  "Make probe a link itself to b; returns when the link exists."
  [a b]
  (let [tg (tag)]
    (! a [:link b tg])
    (recv [:linked tg] true)))

(defn responsive
  "Ping pid and wait for its pong: :alive when it answers, [:died reason] when
  it ends first."
  [pid]
  (let [ref (monitor pid)
        tg (tag)]
    (! pid [:ping (self) tg])
    (let [r (recv [:pong tg] :alive
                  [:DOWN ref :process _ reason] [:died reason])]
      (t/demonitor ref {:flush true})
      r)))

(defn got
  "The next message probe pid forwarded to the caller ([:got pid msg])."
  [pid]
  (recv [:got pid m] m))

;; ---------------------------------------------------------------------------
;; Crash reports

(defn with-crash-handler
  "Run (f) with h as the JVM's crash handler (see tasklet.core/set-crash-handler!:
  a fn of a report map, :silent, ...), restoring the old one after."
  [h f]
  (let [old (t/set-crash-handler! h)]
    (try (f) (finally (t/set-crash-handler! old)))))

(defn quiet-crashes
  "clojure.test fixture: tasklets that these tests crash on purpose are not
  reported."
  [f]
  (with-crash-handler :silent f))

(defn capturing-crashes
  "Run (f reports) with crash reports captured instead of logged; reports is
  an atom of the reports made so far (maps, see set-crash-handler!), in
  order. Returns what f returns. A report is made just after the crashed
  tasklet's links and monitors fired: wait for it with `reports-settle`."
  [f]
  (let [reports (atom [])]
    (with-crash-handler #(swap! reports conj %) #(f reports))))

(defn reports-settle
  "Wait until reports (from `capturing-crashes`) holds at least n, then give
  a late extra report 200 ms to show up; returns the reports."
  [reports n]
  (eventually #(>= (count @reports) n))
  (receive (after 200 nil))
  @reports)

(defn error-kind
  "The :tasklet/error of an ex-info, looking through a CompilerException."
  [^Throwable e]
  (loop [e e]
    (cond
      (nil? e) nil
      (instance? clojure.lang.ExceptionInfo e) (:tasklet/error (ex-data e))
      :else (recur (.getCause e)))))

(defmacro thrown-error
  "Evaluates body; returns the thrown ex-info (or the ex-info a
  CompilerException wraps), or ::no-throw."
  [& body]
  `(try ~@body ::no-throw
        (catch Throwable e#
          (loop [^Throwable x# e#]
            (cond (nil? x#) e#
                  (instance? clojure.lang.ExceptionInfo x#) x#
                  :else (recur (.getCause x#)))))))

(defn kill-and-wait
  "End pid with (exit pid :kill) and wait until it has ended (so its name, if
  any, is free again). Returns its exit reason."
  [pid]
  (let [ref (monitor pid)]
    (t/exit pid :kill)
    (await-down ref)))

(defn run-jvm
  "Run clojure.main -e expr in a fresh JVM on this classpath with jvm-opts
  (and no others: no --add-exports); [exit-code output], within 120 s."
  [jvm-opts expr]
  (let [java (str (System/getProperty "java.home") "/bin/java")
        cmd (concat [java] jvm-opts ["-cp" (System/getProperty "java.class.path") "clojure.main" "-e" expr])
        p (-> (ProcessBuilder. ^java.util.List (vec cmd)) (.redirectErrorStream true) (.start))
        out (future (slurp (.getInputStream p)))]
    (if (.waitFor p 120 TimeUnit/SECONDS)
      [(.exitValue p) @out]
      (do (.destroyForcibly p) [:timeout @out]))))
