(ns tasklet.core.spawn-test
  "doc/reference.md §1 on one node: spawn, spawn-link, spawn-monitor, !, self, schedule,
  flush, processes, alive?, process-info, and that waiting holds no thread."
  (:require [clojure.string :as str]
            [clojure.test :refer [deftest is testing use-fixtures]]
            [tasklet.core :as t :refer [spawn spawn-link spawn-monitor ! receive self
                                        exit monitor trap-exit! alive? process-info
                                        processes schedule]]
            [tasklet.core.support :as s :refer [recv await-down in-thread]])
  (:import [java.lang.management ManagementFactory ThreadMXBean]
           [tasklet.kernel Pid Ref]))

(set! *warn-on-reflection* true)

(use-fixtures :each s/quiet-crashes)

(defn- reply-with-args
  "A defn for spawn: sends its arguments back to `to`."
  [to tg & args]
  (! to [tg (vec args)]))

;; spawn runs (apply f args) for a fn, a defn's value and a var, and returns a pid at once.
(deftest spawn-runs-f-with-args
  (let [me (self)]
    (doseq [[what f] [["fn" (fn [to tg & args] (! to [tg (vec args)]))]
                      ["defn" reply-with-args]
                      ["var" #'reply-with-args]]]
      (testing what
        (let [tg (s/tag)
              p (spawn f me tg 1 :two "three")]
          (is (instance? Pid p))
          (is (= [1 :two "three"] (recv [tg args] args))))))
    (testing "no args"
      (let [p (promise)]
        (spawn (fn [] (deliver p :ran)))
        (is (= :ran (s/wait p)))))))

;; spawn-link links atomically: a child that crashes at once still kills a non-trapping linker.
(deftest spawn-link-child-crashing-at-once-kills-linker
  (dotimes [_ 100]
    (let [[linker ref] (spawn-monitor (fn [] (spawn-link (fn [] (exit :boom)))
                                        (receive _ :unreachable)))]
      (is (= :boom (await-down ref)))
      (is (not (alive? linker))))))

;; spawn-link links atomically: a trapping linker gets [:EXIT child reason], never :noproc.
(deftest spawn-link-child-crashing-at-once-notifies-trapping-linker
  (let [e (ex-info "at once" {})
        reasons (schedule
                  (fn []
                    (trap-exit! true)
                    (vec (for [i (range 100)]
                           (let [c (spawn-link (if (even? i) #(exit :boom) #(throw e)))]
                             (recv [:EXIT c r] r))))))]
    (is (= (take 100 (cycle [:boom e])) reasons))
    (is (every? true? (map-indexed (fn [i r] (if (odd? i) (identical? e r) true)) reasons)))))

;; spawn-link from a plain thread links that thread's pid: the child's crash ends it.
(deftest spawn-link-from-plain-thread
  (let [me (self)
        tg (s/tag)
        outcome (in-thread
                  (fn []
                    (! me [tg (self)])
                    (try (spawn-link #(exit :boom))
                         (receive _ :unreachable (after s/wait-ms :timeout))
                         (catch Throwable _ :receive-threw))))
        thread-pid (recv [tg p] p)]
    (is (= :receive-threw outcome))
    (is (not (alive? thread-pid)))))

;; spawn-monitor returns [pid ref] and [:DOWN ref :process pid reason] arrives, even for a child that ends at once.
(deftest spawn-monitor-returns-pid-and-ref-and-down-arrives
  (dotimes [_ 100]
    (let [[p ref :as r] (spawn-monitor #(exit :bye))]
      (is (vector? r))
      (is (instance? Pid p))
      (is (instance? Ref ref))
      (is (= [:bye] (recv [:DOWN ref :process p reason] [reason])))))
  (testing "a long-lived child: the DOWN comes when it ends"
    (let [[p ref] (spawn-monitor (fn [] (receive :stop :done)))]
      (is (s/no-message? #(= ref (nth % 1 nil))))
      (! p :stop)
      (is (= :normal (await-down ref))))))

;; ! returns msg itself (not a copy), and the receiver gets the identical object.
(deftest send-returns-msg-and-copies-nothing
  (let [me (self)
        tg (s/tag)
        msg {:big (vec (range 100))}
        echo (spawn (fn [] (receive [from m] (! from [tg m]))))]
    (is (identical? msg (! (self) msg)))
    (is (identical? msg (recv (m :guard #(identical? msg %)) m)))
    (is (identical? msg (second (! echo [me msg]))))
    (is (identical? msg (recv [tg m] m)))))

;; ! is a function too: it can be passed to map/apply.
(deftest send-is-a-first-class-function
  (let [me (self)]
    (is (= [[:fc 1] [:fc 2]] (mapv (partial ! me) [[:fc 1] [:fc 2]])))
    (is (= [:fc 3] (apply ! [me [:fc 3]])))
    (is (= [1 2 3] [(recv [:fc x] x) (recv [:fc x] x) (recv [:fc x] x)]))))

;; ! to a dead pid is silently dropped: it returns msg and throws nothing.
(deftest send-to-dead-pid-is-dropped
  (let [[p ref] (spawn-monitor (fn [] :done))]
    (is (= :normal (await-down ref)))
    (is (= [:late 1] (! p [:late 1])))
    (is (= :ok (schedule (fn [] (! p :from-a-tasklet) :ok))))))

;; ! to a keyword nobody registered throws ex-info {:tasklet/error :noproc :name name}.
(deftest send-to-unregistered-name-throws-noproc
  (let [e (s/thrown-error (! :tasklet.core.spawn-test/nobody :hello))]
    (is (instance? clojure.lang.ExceptionInfo e))
    (is (= :noproc (:tasklet/error (ex-data e))))
    (is (= :tasklet.core.spawn-test/nobody (:name (ex-data e)))))
  (testing "from a tasklet too"
    (is (= {:tasklet/error :noproc :name ::nobody}
           (select-keys (schedule #(ex-data (s/thrown-error (! ::nobody :hello))))
                        [:tasklet/error :name])))))

;; ! to a registered name, and to [name node] with this node's name, delivers.
(deftest send-to-name-and-name-node-on-this-node
  (let [me (self)
        tg (s/tag)
        p (spawn (fn [] (loop [] (receive :stop :ok m (do (! me [tg m]) (recur))))))
        node (:node (t/runtime-info))]
    (t/register ::named p)
    (try
      (is (= :by-name (! ::named :by-name)))
      (is (= :by-name (recv [tg m] m)))
      (is (= :by-name-node (! [::named node] :by-name-node)))
      (is (= :by-name-node (recv [tg m] m)))
      (finally (s/kill-and-wait p)))))

;; self on a plain thread is that thread's own stable pid, and receive works there.
(deftest self-on-plain-thread
  (let [[a a' got] (in-thread (fn [] (let [a (self)] (! a :hi) [a (self) (receive :hi :got)])))
        b (in-thread self)]
    (is (instance? Pid a))
    (is (= a a'))
    (is (= :got got))
    (is (not= a b))
    (is (not= a (self)))))

;; self inside a tasklet is the pid spawn returned.
(deftest self-in-tasklet-is-its-pid
  (let [me (self)
        tg (s/tag)
        p (spawn (fn [] (! me [tg (self)])))]
    (is (= p (recv [tg q] q)))))

;; schedule returns the function's value, from a plain thread and from a tasklet.
(deftest schedule-returns-value
  (is (= 6 (schedule + 1 2 3)))
  (is (nil? (schedule (fn [] nil))))
  (is (= [:inner 3] (schedule (fn [] [:inner (schedule + 1 2)])))))

;; schedule rethrows the very exception the tasklet died of.
(deftest schedule-rethrows-the-exception
  (let [e (ex-info "scheduled boom" {:x 1})
        err (AssertionError. "an Error too")]
    (is (identical? e (s/thrown-error (schedule #(throw e)))))
    (is (identical? err (try (schedule #(throw err)) nil (catch Throwable x x))))
    (testing "from inside a tasklet"
      (is (identical? e (schedule #(try (schedule (fn [] (throw e))) nil (catch Exception x x))))))))

;; A tasklet waiting in schedule holds no worker: many can wait at once, then all finish.
(deftest schedule-waits-without-blocking-a-worker
  (let [n 300
        me (self)
        tg (s/tag)
        mx ^ThreadMXBean (ManagementFactory/getThreadMXBean)
        before (.getThreadCount mx)
        outers (doall (for [i (range n)]
                        (spawn (fn [] (! me [tg (schedule (fn [] (! me [tg :inner (self)])
                                                            (receive :go i)))])))))
        inners (vec (for [_ outers] (recv [tg :inner p] p)))]
    (is (s/eventually #(every? s/waiting? inners)) "all inner tasklets wait in receive")
    (is (s/eventually #(every? s/waiting? outers)) "all outer tasklets wait in schedule")
    (is (< (- (.getThreadCount mx) before) 20) "no OS thread per waiting tasklet")
    (doseq [p inners] (! p :go))
    (is (= (set (range n)) (set (repeatedly n #(recv [tg (i :guard integer?)] i)))))))

;; A tasklet waiting in receive uses no OS thread: thousands wait, the thread count barely moves.
(deftest waiting-tasklets-hold-no-os-thread
  (let [n 3000
        mx ^ThreadMXBean (ManagementFactory/getThreadMXBean)
        before (.getThreadCount mx)
        ps (vec (repeatedly n #(spawn (fn [] (receive :stop :ok)))))]
    (is (s/eventually #(every? s/waiting? ps)))
    (is (< (- (.getThreadCount mx) before) 20))
    (let [refs (mapv monitor ps)]
      (doseq [p ps] (! p :stop))
      (is (every? #{:normal} (map await-down refs))))))

;; ! never blocks on a local destination: a flood into a mailbox nobody reads completes.
(deftest send-never-blocks-on-local-destination
  (let [n 50000
        p (spawn (fn [] (receive :stop :ok)))
        done (future (dotimes [i n] (! p [:flood i])) :sent)]
    (is (= :sent (s/wait done)))
    (is (= n (:mailbox-size (process-info p))))
    (! p :stop)))

;; flush prints and removes every message in the caller's mailbox and returns the count.
(deftest flush-returns-count
  (let [[out n left] (schedule
                       (fn []
                         (let [me (self)]
                           (! me [:a 1]) (! me "two") (! me nil)
                           (let [out (java.io.StringWriter.)
                                 n (binding [*out* out] (t/flush))]
                             [(str out) n (receive m [:left m] (after 0 :empty))]))))]
    (is (= 3 n))
    (is (= :empty left))
    (is (str/includes? out "[:a 1]"))
    (is (str/includes? out "\"two\"")))
  (is (= 0 (schedule #(binding [*out* (java.io.StringWriter.)] (t/flush))))))

;; processes contains a live tasklet and not a dead one.
(deftest processes-live-not-dead
  (let [[p ref] (spawn-monitor (fn [] (receive :stop :ok)))]
    (is (some #{p} (processes)))
    (! p :stop)
    (is (= :normal (await-down ref)))
    (is (not (some #{p} (processes))))))

;; alive? is true while the tasklet runs and false after it ends.
(deftest alive-while-running
  (let [[p ref] (spawn-monitor (fn [] (receive :stop :ok)))]
    (is (true? (alive? p)))
    (is (true? (schedule #(alive? (self)))))
    (! p :stop)
    (await-down ref)
    (is (false? (alive? p)))))

(defn- info-target [owner tg]
  (! owner [tg :ready])
  (receive :stop :ok))

;; process-info has the keys of doc/reference.md with live values, and is nil when the tasklet is dead.
(deftest process-info-keys-and-nil-when-dead
  (let [me (self)
        tg (s/tag)
        [p ref] (spawn-monitor #'info-target me tg)
        _ (recv [tg :ready] :ok)
        _ (t/register ::info p)
        watcher (s/start-probe)
        linker (s/start-probe)
        _ (s/link-probes linker p)
        _ (! p [:unmatched 1])
        _ (! p [:unmatched 2])
        _ (is (s/eventually #(s/waiting? p)) "it parks again after scanning the two messages")
        info (process-info p)]
    (try
      (is (every? #(contains? info %) [:status :mailbox-size :links :monitors :monitored-by
                                       :trap-exit :registered-name :initial-fn]))
      (is (= :waiting (:status info)))
      (is (= 2 (:mailbox-size info)))
      (is (= [linker] (vec (:links info))))
      (is (some #{me} (:monitored-by info)))
      (is (false? (:trap-exit info)))
      (is (= ::info (:registered-name info)))
      (is (= #'info-target (:initial-fn info)))
      (testing "the caller's own status is :running; :monitors and :trap-exit follow the tasklet"
        (let [i (schedule (fn [] (trap-exit! true) (monitor p) (process-info (self))))]
          (is (= :running (:status i)))
          (is (true? (:trap-exit i)))
          (is (= [p] (vec (:monitors i))))))
      (finally
        (! p :stop)))
    (is (= :normal (await-down ref)))
    (is (nil? (process-info p)))
    (exit linker :kill)
    (exit watcher :kill)))
