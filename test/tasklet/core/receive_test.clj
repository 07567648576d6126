(ns tasklet.core.receive-test
  "doc/reference.md §1 receive: patterns, selective receive, after, recur, depth, plain
  threads, and the compile-time and run-time errors of its syntax. Most rules
  are checked twice: on a fresh plain thread and inside a tasklet (`both`)."
  (:require [clojure.test :refer [deftest is testing]]
            [tasklet.core :as t :refer [spawn ! receive self schedule]]
            [tasklet.core.support :as s :refer [recv in-thread]])
  (:import [clojure.lang Var]
           [tasklet.kernel ManualTime Node NodeOptions]))

(set! *warn-on-reflection* true)

(defn- both
  "[(f) on a fresh plain thread, (f) in a tasklet]: each has an empty mailbox."
  [f]
  [(in-thread f) (schedule f)])

(defn- send-self [& msgs]
  (doseq [m msgs] (! (self) m)))

(defn- classify
  "Sends msg to oneself and receives it with one clause per pattern kind."
  [msg]
  (! (self) msg)
  (receive
    [:v a b] [:vec a b]
    {:op :add :n (n :guard pos?)} [:map n]
    ([:s & xs] :seq) [:seq xs]
    [:r x & more] [:rest x more]
    (:or :x :y) :or
    ([:as-test _] :as whole) [:as whole]
    42 :literal
    "str" :string
    (s :guard string?) [:guarded s]
    nil :nil
    _ :wildcard
    (after 0 :no-match)))

;; Each core.match pattern kind matches the message as one value: vectors, maps, :guard, seqs, & rest, :or, :as, literals, nil, _.
(deftest receive-pattern-kinds
  (let [msgs [[:v 1 2] {:op :add :n 3} {:op :add :n -3} '(:s 1 2) [:r 1 2 3] [:r 1]
              :x :y [:as-test 9] 42 "str" "other" nil 'sym [:v 1] '(:v 1 2)]
        expected [[:vec 1 2] [:map 3] :wildcard [:seq '(1 2)] [:rest 1 [2 3]] [:rest 1 []]
                  :or :or [:as [:as-test 9]] :literal :string [:guarded "other"] :nil :wildcard
                  :wildcard :wildcard]]
    (doseq [r (both #(mapv classify msgs))]
      (is (= expected r)))))

;; A local symbol in scope matches by value (the ref idiom); any other symbol binds.
(deftest receive-local-symbol-matches-by-value
  (doseq [r (both (fn []
                    (let [ref (s/tag)
                          other (s/tag)
                          n 7]
                      (send-self [:reply other :wrong] [:reply ref :right] [:n 8] [:n 7])
                      [(receive [:reply ref v] v (after 0 :none))
                       (receive [:n n] :seven (after 0 :none))
                       (receive [:reply x v] [(= x other) v] (after 0 :none))
                       (receive [:n x] x (after 0 :none))])))]
    (is (= [:right :seven [true :wrong] 8] r))))

;; Clauses are tried in order: a message matching two clauses runs the first.
(deftest receive-clause-order
  (doseq [r (both (fn []
                    (send-self [:a 1] [:a 2])
                    [(receive [:a x] [:first x] [_ x] [:second x])
                     (receive [_ x] [:first x] [:a x] [:second x])]))]
    (is (= [[:first 1] [:first 2]] r))))

;; The mailbox is scanned oldest first: the oldest message matching any clause wins, whatever the clause order.
(deftest receive-oldest-message-first
  (doseq [r (both (fn []
                    (send-self [:b 1] [:a 1] [:b 2])
                    [(receive [:a x] [:a x] [:b x] [:b x])
                     (receive [:a x] [:a x] [:b x] [:b x])
                     (receive [:a x] [:a x] [:b x] [:b x])]))]
    (is (= [[:b 1] [:a 1] [:b 2]] r))))

;; Messages that match no clause stay in the mailbox, in order, for later receives.
(deftest receive-selective-keeps-others-in-order
  (doseq [r (both (fn []
                    (send-self [:b 1] [:a 1] [:c 1] [:b 2] [:a 2] [:c 2])
                    (let [as [(receive [:a x] x) (receive [:a x] x)]
                          none (receive [:a x] x (after 0 :none))
                          cs [(receive [:c x] x) (receive [:c x] x)]
                          rest (loop [acc []] (receive m (recur (conj acc m)) (after 0 acc)))]
                      [as none cs rest])))]
    (is (= [[1 2] :none [1 2] [[:b 1] [:b 2]]] r))))

;; Selective receive across waits: a receive that already skipped messages and then waits still sees them later.
(deftest receive-selective-across-a-wait
  (let [me (self)
        tg (s/tag)
        p (spawn (fn []
                   (! (self) [:early 1])
                   (! me [tg :waiting])
                   (let [late (receive [:late x] x)]
                     (! me [tg [late (receive m m (after 0 :none)) (receive m m (after 0 :none))]]))))]
    (recv [tg :waiting] :ok)
    (is (s/eventually #(s/waiting? p)))
    (! p [:other 2])
    (is (s/eventually #(s/waiting? p)))
    (! p [:late 3])
    (is (= [3 [:early 1] [:other 2]] (recv [tg r] r)))))

(defn- boom [_] (throw (RuntimeException. "guard throws")))

;; A guard that throws counts as no match for that clause, and the message is not lost.
(deftest receive-throwing-guard-is-no-match
  (doseq [r (both (fn []
                    (send-self 1 2)
                    [(receive (x :guard boom) [:bad x] (after 0 :none))
                     (receive (x :guard boom) [:bad x] x [:next-clause x])
                     (receive (x :guard boom) [:bad x] (after 0 :none))
                     (receive x x (after 0 :none))]))]
    (is (= [:none [:next-clause 1] :none 2] r))))

;; (after ms body) runs its body when nothing matches within ms (not earlier); a match before then wins.
(deftest receive-after-timeout
  (doseq [[elapsed v] (both (fn []
                              (send-self [:other])
                              (let [t0 (System/nanoTime)
                                    v (receive [:never] :matched (after 50 :timed-out))]
                                [(/ (- (System/nanoTime) t0) 1e6) v])))]
    (is (= :timed-out v))
    (is (>= elapsed 50.0)))
  (testing "a message that arrives while it waits ends the wait"
    (let [me (self)
          tg (s/tag)
          p (spawn (fn [] (! me [tg (receive [:late x] x (after s/wait-ms :timed-out))])))]
      (is (s/eventually #(s/waiting? p)))
      (! p [:late 5])
      (is (= 5 (recv [tg r] r)))))
  (testing "the timeout can be computed at run time"
    (let [ms 1]
      (is (= :timed-out (receive [:never] :matched (after ms :timed-out))))
      (is (= :timed-out (receive [:never] :matched (after (* ms 2) :timed-out))))))
  (testing "the after body may hold several forms, the last is the value"
    (let [a (atom 0)]
      (is (= :last (receive [:never] 1 (after 0 (swap! a inc) :last))))
      (is (= 1 @a)))))

;; after measures its timeout on the node's clock: with manual time it does not fire before the clock reaches ms, and fires once it does.
(deftest receive-after-uses-the-nodes-clock
  (let [mt (ManualTime.)
        node (Node. (-> (NodeOptions/builder "tasklet-core-receive-test-manual-time") (.timers mt) (.parallelism 1) (.build)))
        me (self)
        tg (s/tag)
        scanned (promise)
        noticed (fn [m] (when (= [:noise] m) (deliver scanned true)) false)]
    (try
      (let [p (.spawn node
                      (fn [] (! me [tg (receive [:wanted] :got
                                                (_ :guard noticed) :never
                                                (after 1000 :timed-out))]))
                      :manual-time-tasklet (Var/cloneThreadBindingFrame) nil nil nil)]
        (is (s/eventually #(s/waiting? p)))
        (.advanceMillis mt 999)
        ;; make it look again at 999 ms: it must go back to waiting, not time out
        (! p [:noise])
        (is (true? (s/wait scanned)) "it looked at the new message")
        (is (s/eventually #(s/waiting? p)) "and waits again")
        (is (s/no-message? #(= tg (first %))))
        (.advanceMillis mt 1)
        (is (= :timed-out (recv [tg r] r))))
      (finally (.shutdown node)))))

;; monotonic-ms reads the clock of the calling tasklet's node, the one after counts by: the real clock on the default node, the manual one where a node has it.
(deftest monotonic-ms-is-the-nodes-clock
  (let [a (t/monotonic-ms)
        n (quot (System/nanoTime) 1000000)
        b (t/monotonic-ms)]
    (is (<= a n b) "the default node runs on System/nanoTime"))
  (let [mt (ManualTime.)
        node (Node. (-> (NodeOptions/builder "tasklet-core-receive-test-monotonic-ms") (.timers mt) (.parallelism 1) (.build)))
        me (self)
        tg (s/tag)]
    (try
      (.advanceMillis mt 5000)
      (let [p (.spawn node
                      (fn []
                        (! me [tg :before (t/monotonic-ms)])
                        (receive :never nil (after 1000 nil))
                        (! me [tg :after (t/monotonic-ms)]))
                      :monotonic-ms-tasklet (Var/cloneThreadBindingFrame) nil nil nil)]
        (is (= 5000 (recv [tg :before ms] ms)))
        (is (s/eventually #(s/waiting? p)))
        (.advanceMillis mt 1000)
        (is (= 6000 (recv [tg :after ms] ms))))
      (finally (.shutdown node)))))

;; (after 0 ...) only looks at what is already there: it takes a matching message, or runs its body at once.
(deftest receive-after-zero-only-looks
  (doseq [r (both (fn []
                    (let [t0 (System/nanoTime)
                          empty (receive _ :got (after 0 :empty))
                          ms (/ (- (System/nanoTime) t0) 1e6)]
                      (send-self [:here 1])
                      [empty (< ms 1000) (receive [:here x] x (after 0 :empty))])))]
    (is (= [:empty true 1] r))))

;; An after timeout of nil or :infinity waits for ever: a message that arrives later is taken.
(deftest receive-nil-and-infinity-wait-for-ever
  (doseq [ms [nil :infinity]]
    (testing (pr-str ms)
      (let [me (self)
            tg (s/tag)
            p (spawn (fn [ms] (! me [tg (receive [:late x] x (after ms :timed-out))])) ms)]
        (is (s/eventually #(s/waiting? p)))
        (! p [:noise])
        (is (s/eventually #(s/waiting? p)))
        (! p [:late ms])
        (is (= ms (recv [tg r] r))))))
  (testing "literal nil and :infinity compile"
    (let [me (self)
          tg (s/tag)
          p (spawn (fn [] (! me [tg [(receive [:a x] x (after nil :t)) (receive [:b x] x (after :infinity :t))]])))]
      (is (s/eventually #(s/waiting? p)))
      (! p [:a 1])
      (! p [:b 2])
      (is (= [1 2] (recv [tg r] r))))))

;; Bodies are in tail position: recur from a clause body (and from the after body) reaches the enclosing loop.
(deftest receive-recur-to-enclosing-loop
  (doseq [r (both (fn []
                    (send-self [:n 1] [:n 2] [:n 3] [:end])
                    [(loop [acc []]
                       (receive [:n x] (recur (conj acc x))
                                [:end] acc))
                     (loop [i 0]
                       (receive [:never] :no (after 0 (if (< i 1000) (recur (inc i)) i))))]))]
    (is (= [[1 2 3] 1000] r))))

;; recur from a clause body with no loop reaches the enclosing fn (the Erlang receive loop).
(deftest receive-recur-to-enclosing-fn
  (let [server (fn server [total]
                 (receive [:add n] (recur (+ total n))
                          [:get from tg] (do (! from [tg total]) (recur total))
                          :stop total))]
    (doseq [r (both (fn []
                      (send-self [:add 1] [:add 2] [:add 39] :stop)
                      (server 0)))]
      (is (= 42 r)))
    (testing "a long loop does not grow the stack"
      (let [me (self)
            tg (s/tag)
            p (spawn server 0)]
        (dotimes [_ 100000] (! p [:add 1]))
        (! p [:get me tg])
        (is (= 100000 (recv [tg v] v)))
        (! p :stop)))))

(defn- call
  "The helper of doc/reference.md: receive in a function called from anywhere."
  [pid req]
  (! pid [:call (self) req])
  (receive [:reply r] r))

(defn- echo-server []
  (loop []
    (receive [:call from req] (do (! from [:reply [:echo req]]) (recur))
             :stop :ok)))

;; receive works in any function at any depth, not only lexically in the spawned fn (the `call` helper of doc/reference.md).
(deftest receive-from-helper-at-depth
  (let [srv (spawn echo-server)
        deep (fn deep [n] (if (zero? n) (call srv :deep) (first [(deep (dec n))])))]
    (try
      (doseq [r (both (fn [] [(call srv 1)
                              (deep 50)
                              (reduce (fn [acc x] (conj acc (call srv x))) [] [:a :b])
                              (into [] (map #(call srv %)) [:c])]))]
        (is (= [[:echo 1] [:echo :deep] [[:echo :a] [:echo :b]] [[:echo :c]]] r)))
      (finally (! srv :stop)))))

;; receive works on a plain thread: it waits for a message that a tasklet sends once the thread is parked.
(deftest receive-on-plain-thread
  (let [helper (spawn (fn []
                        (receive [:to th] (when (s/eventually #(s/waiting? th))
                                            (! th [:from-tasklet :payload])))))
        r (in-thread (fn []
                       (! helper [:to (self)])
                       (receive [:from-tasklet x] x (after s/wait-ms :timed-out))))]
    (is (= :payload r)))
  (testing "the test thread itself"
    (let [me (self)]
      (spawn (fn [] (! me [:plain-test-thread 1])))
      (is (= 1 (recv [:plain-test-thread x] x))))))

;; Interrupting a plain thread waiting in receive (the REPL's interrupt) ends
;; the wait at once with :interrupted, without and with `after`; the thread
;; keeps its pid and its mailbox, and its next receive parks (no CPU used)
;; instead of spinning on a stale interrupt status.
(defn- cpu-ms
  "CPU time thread th used in ms over a window of ms milliseconds."
  [^Thread th ms]
  (let [mx (java.lang.management.ManagementFactory/getThreadMXBean)
        before (.getThreadCpuTime mx (.threadId th))]
    (Thread/sleep (long ms))  ; a measuring window, not a synchronisation
    (/ (- (.getThreadCpuTime mx (.threadId th)) before) 1e6)))

(deftest interrupted-receive-ends-its-wait
  (doseq [timeout [nil 60000]]
    (testing (str "after " timeout)
      (let [first-wait (promise)
            interrupted (promise)
            done (promise)
            body (fn []
                   (let [me (self)]
                     (! me :kept)        ; matches no clause: stays through the interrupt
                     (deliver first-wait me)
                     (deliver interrupted
                              (try (if timeout
                                     (receive [:go] :go (after timeout :timed-out))
                                     (receive [:go] :go))
                                   (catch clojure.lang.ExceptionInfo e
                                     [(:tasklet/error (ex-data e)) (self)
                                      (.isInterrupted (Thread/currentThread))])))
                     (deliver done [(if timeout
                                      (receive [:go] :go (after timeout :timed-out))
                                      (receive [:go] :go))
                                    (receive :kept :kept (after 0 :lost))
                                    (self)])))
            th (doto (Thread. ^Runnable body "interrupted-receive-test") (.setDaemon true) (.start))
            pid (s/wait first-wait)]
        (is (s/eventually #(s/waiting? pid)))
        (let [t0 (System/nanoTime)]
          (.interrupt th)
          (is (= [:interrupted pid false] (s/wait interrupted))
              "ends with :interrupted, keeps its pid, clears the interrupt status")
          (is (< (/ (- (System/nanoTime) t0) 1e6) 1000.0) "promptly"))
        (is (s/eventually #(s/waiting? pid)) "waits again")
        (is (< (cpu-ms th 300) 50.0) "and uses no CPU while it waits")
        (! pid [:go])
        (is (= [:go :kept pid] (s/wait done)) "the same pid; the message sent before the interrupt stayed")))))

;; Interrupting a thread waiting in schedule stops the scheduled tasklet and leaves nothing in the thread's mailbox.
(deftest interrupted-schedule-stops-its-tasklet
  (let [me (self)
        out (promise)
        th (doto (Thread. ^Runnable
                          (fn []
                            (deliver out
                                     [(s/error-kind (s/thrown-error
                                                      (schedule (fn [] (! me [:scheduled (self)]) (receive :never nil)))))
                                      (s/no-message? (constantly true))])))
             (.setDaemon true) (.start))
        p (recv [:scheduled p] p)]
    (.interrupt th)
    (is (= [:interrupted true] (s/wait out)) "thrown, and the mailbox is empty")
    (is (false? (t/alive? p)) "the scheduled tasklet was killed")))

;; Compile time: an odd number of clause forms, an after that is not last, or a bad literal timeout fail macroexpansion.
(deftest receive-syntax-errors-at-compile-time
  (doseq [form ['(tasklet.core/receive [:a])
                '(tasklet.core/receive [:a] :a [:b])
                '(tasklet.core/receive [:a] (after 10 :t))
                '(tasklet.core/receive (after 10 :t) [:a] :a)
                '(tasklet.core/receive [:a] :a (after 10 :t) [:b] :b)
                '(tasklet.core/receive [:a] :a (after "soon" :t))
                '(tasklet.core/receive [:a] :a (after :forever :t))
                '(tasklet.core/receive [:a] :a (after -5 :t))
                '(tasklet.core/receive [:a] :a (after))]]
    (testing (pr-str form)
      (let [e (s/thrown-error (macroexpand form))]
        (is (instance? clojure.lang.ExceptionInfo e))
        (is (= :badarg (s/error-kind e)))
        (is (re-find #"receive" (ex-message e))))
      (is (thrown? clojure.lang.Compiler$CompilerException (eval form)))))
  (testing "well-formed receives expand"
    (doseq [form ['(tasklet.core/receive [:a] :a)
                  '(tasklet.core/receive [:a] :a (after 0 :t))
                  '(tasklet.core/receive (after 0 :t))
                  '(tasklet.core/receive [:a] :a (after nil :t))
                  '(tasklet.core/receive [:a] :a (after :infinity :t))
                  '(tasklet.core/receive [:a] :a (after (+ 1 2) :t))]]
      (is (seq? (macroexpand form)) (pr-str form)))))

;; Run time: an after timeout that is not a non-negative number, nil or :infinity throws ex-info :badarg.
(deftest receive-bad-runtime-timeout-is-badarg
  (doseq [bad ["soon" :forever -1 'sym [10]]]
    (testing (pr-str bad)
      (let [e (s/thrown-error (receive [:never] :x (after bad :t)))]
        (is (instance? clojure.lang.ExceptionInfo e))
        (is (= :badarg (:tasklet/error (ex-data e)))))
      (let [e (schedule #(s/thrown-error (receive [:never] :x (after bad :t))))]
        (is (= :badarg (:tasklet/error (ex-data e))))))))

;; nil is an ordinary message: it is delivered and matched like any value.
(deftest receive-nil-message
  (doseq [r (both (fn []
                    (send-self nil [:after-nil])
                    [(receive [:after-nil] :skipped-nil nil :nil-first)
                     (receive x [:got x] (after 0 :none))
                     (receive x [:got x] (after 0 :none))]))]
    (is (= [:nil-first [:got [:after-nil]] :none] r))))

;; What a matcher returns is tasklet.kernel.Matched or the one bare-value
;; clause's value itself (doc/adr/0008): every message, whatever it is (nil,
;; false, a vector like the old [i & values] results, the timeout marker, a
;; Matched), reaches the right clause with the right bindings.
(deftest receive-result-shapes
  (let [tag0 (tasklet.kernel.Matched/tag 0)
        odd-msgs [nil false [0] [1 :x] t/timeout-marker tag0 [:two 1 2] [:one 5] :plain]]
    (doseq [r (both (fn []
                      (apply send-self odd-msgs)
                      (vec (for [_ odd-msgs]
                             (receive
                               :plain :kw
                               [:two a b] [:two a b]
                               x (if (identical? x tag0) :tag0 [:bare x])
                               [:one y] [:never y]
                               (after 0 :timeout))))))]
      (is (= [[:bare nil] [:bare false] [:bare [0]] [:bare [1 :x]] [:bare t/timeout-marker]
              :tag0 [:two 1 2] [:bare [:one 5]] :kw]
             r))))
  (testing "a one-local clause after the bare-value clause, and a timeout among them"
    (doseq [r (both (fn []
                      (send-self [:one 5] [:x nil] [:y 1 2])
                      [(receive [:x v] [:x v] [:one y] [:one y] (after 0 :timeout))
                       (receive [:x v] [:x v] [:one y] [:one y] (after 0 :timeout))
                       (receive [:x v] [:x v] [:one y] [:one y] (after 0 :timeout))
                       (receive [:y a b] (+ a b))]))]
      (is (= [[:one 5] [:x nil] :timeout 3] r))))
  (testing "more clauses that bind nothing than Matched keeps tags for"
    (let [f (eval `(fn [] (receive ~@(mapcat (fn [i] [i [:clause i]]) (range 70)))))]
      (doseq [r (both (fn [] (send-self 3 69) [(f) (f)]))]
        (is (= [[:clause 3] [:clause 69]] r))))))

;; A receive whose patterns name no local keeps one matcher for every
;; evaluation (a private var of its namespace); one that names a local, in a
;; pattern or inside a guard, makes its matcher each time, so each evaluation
;; matches against its own values (a hoisted one would keep the first's).
(deftest receive-matcher-hoisting
  (let [var-of #(re-find #"receive-matcher__\d+" (pr-str (macroexpand-1 %)))
        a (var-of '(tasklet.core/receive [:a x] x))]
    (is (some? a))
    (is (not= a (var-of '(tasklet.core/receive [:a x] x))) "each receive form has its own var")
    (is (some? (var-of '(tasklet.core/receive [:a (x :guard #(= % 1))] x))) "a guard of constants hoists"))
  (let [f (fn [n] (receive [:n (m :guard #(= n %))] [:guard m] (after 0 :none)))
        g (fn [n] (receive [:n n] [:local n] (after 0 :none)))
        h (fn [] (receive [:n m] [:any m] (after 0 :none)))]
    (doseq [r (both (fn []
                      (send-self [:n 1] [:n 2] [:n 3] [:n 4] [:n 5])
                      [(f 2) (f 1) (g 4) (g 3) (h) (h)]))]
      (is (= [[:guard 2] [:guard 1] [:local 4] [:local 3] [:any 5] :none] r)))))
