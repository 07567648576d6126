(ns tasklet.core.exit-test
  "doc/reference.md §2 (exit signals) and the §1 forms behind them: exit, die, link,
  unlink, monitor, demonitor, trap-exit!. One deftest per rule.

  Observing that something did NOT happen: exit signals between tasklets on
  one node are delivered when they are sent (a dying tasklet signals its links
  before its monitors get :DOWN), and a tasklet acts on a pending signal before
  it takes its next message. So after the :DOWN of the tasklet that sent a
  signal, a ping answered by the target proves the target survived it."
  (:require [clojure.test :refer [deftest is testing use-fixtures]]
            [tasklet.core :as t :refer [spawn spawn-link spawn-monitor ! receive self
                                        exit die link unlink monitor demonitor
                                        trap-exit! alive? process-info schedule]]
            [tasklet.core.support :as s :refer [recv await-down start-probe link-probes
                                                responsive got]]
            [tasklet.test])
  (:import [tasklet.kernel Ref]))

(set! *warn-on-reflection* true)

(use-fixtures :each s/quiet-crashes)

(defn- dead-pid
  "The pid of a tasklet that has ended."
  []
  (let [[p ref] (spawn-monitor (fn [] :done))]
    (await-down ref)
    p))

;; A tasklet whose function returns ends with reason :normal.
(deftest normal-return-is-normal
  (let [[_ ref] (spawn-monitor (fn [] :some-value))]
    (is (= :normal (await-down ref)))))

;; (exit reason) ends the calling tasklet with exactly that reason, from any depth; (die) is (exit :normal).
(deftest exit-ends-with-reason
  (doseq [reason [:shutdown {:my "reason"} [:nested 1] "text" 42]]
    (let [[_ ref] (spawn-monitor (fn [] (exit reason) :unreachable))]
      (is (= reason (await-down ref)))))
  (testing "from a nested call, through code that catches Exception"
    (let [deep (fn deep [n] (if (zero? n) (exit :deep) (deep (dec n))))
          [_ ref] (spawn-monitor (fn [] (try (deep 20) (catch Exception _ :swallowed))))]
      (is (= :deep (await-down ref)))))
  (testing "(exit :normal) and (die)"
    (let [[_ r1] (spawn-monitor (fn [] (exit :normal) (exit :not-reached)))
          [_ r2] (spawn-monitor (fn [] (die) (exit :not-reached)))]
      (is (= :normal (await-down r1)))
      (is (= :normal (await-down r2))))))

;; An uncaught Throwable ends the tasklet with the Throwable itself (the same object) as its reason.
(deftest uncaught-throwable-is-the-reason
  (doseq [e [(ex-info "boom" {:k 1}) (RuntimeException. "rt") (AssertionError. "an Error")]]
    (let [[_ ref] (spawn-monitor (fn [] (throw e)))]
      (is (identical? e (await-down ref)) (str (class e))))))

;; When a tasklet ends with reason R, a linked (non-trapping) tasklet gets the exit signal R and ends with R.
(deftest linked-tasklet-gets-exit-signal
  (doseq [[how reason trigger] [[:exit :boom #(vector :exit :boom)]
                                [:throw :throwable (fn [] [:throw (ex-info "linked boom" {})])]]]
    (testing (name how)
      (let [a (start-probe)
            b (start-probe)
            ra (monitor a)
            rb (monitor b)
            msg (trigger)]
        (link-probes a b)
        (! b msg)
        (let [rb-reason (await-down rb)
              ra-reason (await-down ra)]
          (if (= how :exit)
            (is (= [:boom :boom] [rb-reason ra-reason]))
            (do (is (identical? (second msg) rb-reason))
                (is (identical? (second msg) ra-reason)))))))))

;; A tasklet that traps exits gets each exit signal as [:EXIT from reason] and keeps running.
(deftest trapping-tasklet-gets-exit-message-and-keeps-running
  (let [a (start-probe {:trap true})
        b (start-probe)
        rb (monitor b)]
    (link-probes a b)
    (! b [:exit :boom])
    (is (= :boom (await-down rb)))
    (is (= [:EXIT b :boom] (got a)))
    (is (= :alive (responsive a)))
    (testing "an exit signal sent with (exit pid reason)"
      (let [sender (schedule #(do (exit a :shutdown) (self)))]
        (is (= [:EXIT sender :shutdown] (got a)))))
    (testing "also from a plain thread, and :normal from another arrives as a message too"
      (exit a :normal)
      (is (= [:EXIT (self) :normal] (got a)))
      (is (= :alive (responsive a))))
    (exit a :kill)))

;; A tasklet that does not trap exits ignores a :normal signal from another tasklet (by link or by exit/2).
(deftest non-trapping-ignores-normal-from-another
  (let [a (start-probe)
        b (start-probe)
        rb (monitor b)]
    (link-probes a b)
    (! b [:return :fine])
    (is (= :normal (await-down rb)))
    (is (= :alive (responsive a)) "a linked tasklet ending normally does not end it")
    (exit a :normal)
    (schedule #(exit a :normal))
    (is (= :alive (responsive a)) "(exit pid :normal) from another does not end it")
    (is (s/no-message? #(= :got (first %))) "and it got no message either")
    (exit a :kill)))

;; A tasklet that does not trap exits ends with reason R for any other R, by exit/2 as by link.
(deftest non-trapping-dies-with-other-reason
  (doseq [reason [:shutdown {:why "any"} (ex-info "as a reason" {})]]
    (let [a (start-probe)
          ra (monitor a)]
      (exit a reason)
      (is (identical? reason (await-down ra)) (pr-str reason)))))

;; (exit pid :kill) cannot be trapped: the target ends with :killed, and its links then get :killed.
(deftest kill-is-untrappable-and-links-get-killed
  (let [target (start-probe {:trap true})
        trapper (start-probe {:trap true})
        plain (start-probe)
        rt (monitor target)
        rp (monitor plain)]
    (link-probes target trapper)
    (link-probes target plain)
    (is (true? (exit target :kill)))
    (is (= :killed (await-down rt)))
    (is (= :killed (await-down rp)) "a non-trapping link dies with :killed")
    (is (= [:EXIT target :killed] (got trapper)) "a trapping link sees :killed")
    (is (= :alive (responsive trapper)))
    (exit trapper :kill)))

;; A tasklet that ends itself with reason :kill is an ordinary reason for its links: trappable, and it kills non-trapping links with :kill.
(deftest own-kill-reason-is-ordinary-for-links
  (let [victim (start-probe)
        trapper (start-probe {:trap true})
        plain (start-probe)
        rv (monitor victim)
        rp (monitor plain)]
    (link-probes victim trapper)
    (link-probes victim plain)
    (! victim [:exit :kill])
    (is (= :kill (await-down rv)))
    (is (= [:EXIT victim :kill] (got trapper)))
    (is (= :kill (await-down rp)))
    (exit trapper :kill)))

;; (exit (self) :normal) ends the calling tasklet; a trapping one gets [:EXIT self :normal] instead.
(deftest exit-self-normal-ends-oneself
  (let [me (self)
        tg (s/tag)
        [p ref] (spawn-monitor (fn [] (exit (self) :normal) (! me [tg :still-running])))]
    (is (= :normal (await-down ref)))
    (is (s/no-message? #(= [tg :still-running] %))))
  (is (= [:EXIT :me :normal]
         (schedule (fn [] (trap-exit! true) (exit (self) :normal)
                     (receive [:EXIT p r] [:EXIT (if (= p (self)) :me p) r] (after 0 :no-message)))))))

;; Linking to a dead pid sends the caller an exit signal :noproc: a trapping caller gets [:EXIT pid :noproc], a non-trapping one dies.
(deftest link-to-dead-pid-gives-noproc
  (let [dead (dead-pid)]
    (is (= [true [:EXIT dead :noproc]]
           (schedule (fn [] (trap-exit! true) [(link dead) (recv ([:EXIT _ _] :as m) m)]))))
    (let [[_ ref] (spawn-monitor (fn [] (link dead) (receive _ :unreachable)))]
      (is (= :noproc (await-down ref))))))

;; link returns true and is bidirectional: either end's death reaches the other.
(deftest link-is-bidirectional
  (doseq [dies [:linker :linked]]
    (let [a (start-probe)
          b (start-probe)
          ra (monitor a)
          rb (monitor b)]
      (link-probes a b)
      (is (= [b] (:links (process-info a))))
      (is (= [a] (:links (process-info b))))
      (! (if (= dies :linker) a b) [:exit :gone])
      (is (= [:gone :gone] [(await-down ra) (await-down rb)]) (name dies)))))

;; unlink removes the link both ways: a crash no longer propagates, in either direction.
(deftest unlink-stops-propagation
  (doseq [[unlinker dies] [[:a :b] [:b :b] [:a :a]]]
    (testing (str unlinker " unlinks, " dies " dies")
      (let [a (start-probe)
            b (start-probe)
            pids {:a a :b b}
            tg (s/tag)
            survivor (pids (if (= dies :a) :b :a))
            rd (monitor (pids dies))]
        (link-probes a b)
        (! (pids unlinker) [:unlink (pids (if (= unlinker :a) :b :a)) tg])
        (recv [:unlinked tg] :ok)
        (is (= [] (:links (process-info a))))
        (is (= [] (:links (process-info b))))
        (! (pids dies) [:exit :crash])
        (is (= :crash (await-down rd)))
        (is (= :alive (responsive survivor)))
        (exit survivor :kill))))
  (is (true? (schedule #(unlink (self)))) "unlink of a pid not linked returns true"))

;; A link whose one side was cut with a signal already (as a lost-node sweep
;; does: [:EXIT b :noconnection]) does not signal again when the other end
;; dies: the dying end signals only peers that still have the link.
(deftest a-cut-link-signals-once
  (let [a (start-probe {:trap true})
        b (start-probe)
        rd (monitor b)]
    (link-probes a b)
    (tasklet.kernel.Links/remoteExit (tasklet.kernel.NodeTable/resolve a) b :noconnection)
    (is (= [:EXIT b :noconnection] (got a)))
    (! b [:exit :crash])
    (is (= :crash (await-down rd)))
    (is (= :alive (responsive a)))
    (is (s/no-message? #(= [:got a [:EXIT b :crash]] %)) "no second exit signal")
    (exit a :kill)))

;; Two tasklets that link to each other at the same moment never deadlock,
;; even on two nodes of one JVM where their serials are equal (the kernel locks
;; both ends in one order; ordered by serial alone, this hung within a few
;; hundred pairs).
(deftest simultaneous-links-across-nodes-never-deadlock
  (let [mk (fn ^tasklet.kernel.Node [nm]
             (tasklet.kernel.Node. (.build (tasklet.kernel.NodeOptions/builder nm))))
        ^tasklet.kernel.Node x (mk "exit-test-x")
        ^tasklet.kernel.Node y (mk "exit-test-y")
        linked (java.util.concurrent.LinkedBlockingQueue.)
        body (fn [] (receive [:go p] (do (link p) (.add linked p) (receive :stop nil))))
        await-linked #(.poll linked 10 java.util.concurrent.TimeUnit/SECONDS)]
    (try
      (is (= :all-linked
             (loop [i 0]
               (if (= i 20000)
                 :all-linked
                 (let [^tasklet.kernel.Pid a (.spawn x body body nil nil nil nil)
                       ^tasklet.kernel.Pid b (.spawn y body body nil nil nil nil)]
                   (assert (= (.-serial a) (.-serial b)) "equal serials on both nodes")
                   (! a [:go b])
                   (! b [:go a])
                   (if (and (await-linked) (await-linked))
                     (do (! a :stop) (! b :stop) (recur (inc i)))
                     [:stuck-at i]))))))
      (finally (.shutdown x) (.shutdown y)))))

;; monitor returns a ref and delivers [:DOWN ref :process pid reason] when the target ends; several monitors each get theirs.
(deftest monitor-delivers-down
  (let [p (start-probe)
        r1 (monitor p)
        r2 (monitor p)]
    (is (instance? Ref r1))
    (is (not= r1 r2))
    (is (some #{(self)} (:monitored-by (process-info p))))
    (! p [:exit :done])
    (is (= :done (recv [:DOWN r1 :process p reason] reason)))
    (is (= :done (recv [:DOWN r2 :process p reason] reason))))
  (testing "a monitor is one-way: the watcher is not affected"
    (let [[w wref] (spawn-monitor (fn [] (let [r (monitor (spawn #(exit :crash)))]
                                             (receive [:DOWN r & _] :saw-down))))]
      (is (= :normal (await-down wref)))))
  (testing "monitor by registered name"
    (let [p (start-probe)
          _ (t/register ::monitored p)
          r (monitor ::monitored)]
      (! p [:exit :by-name])
      (is (= :by-name (recv [:DOWN r :process _ reason] reason))))))

;; demonitor removes the monitor: no :DOWN comes for it, and it returns true.
(deftest demonitor-stops-down
  (let [p (start-probe)
        r1 (monitor p)
        r2 (monitor p)]
    (is (true? (demonitor r1)))
    (is (= 1 (count (:monitored-by (process-info p)))))
    (! p [:exit :done])
    (is (= :done (await-down r2)))
    (is (s/no-message? #(= r1 (nth % 1 nil))) "no :DOWN for the removed monitor")))

;; demonitor with {:flush true} also removes a :DOWN already delivered; without it the :DOWN stays.
(deftest demonitor-flush-removes-delivered-down
  (doseq [flush? [true false]]
    (testing (str ":flush " flush?)
      (let [[flush-result left]
            (schedule
              (fn []
                (let [me (self)
                      _ (! me [:unrelated 1])
                      p (spawn (fn [] (receive :go :done)))
                      r (monitor p)]
                  (! p :go)
                  ;; wait until the :DOWN has landed next to the unrelated message
                  (when-not (s/eventually #(= 2 (:mailbox-size (process-info me))))
                    (throw (ex-info "no :DOWN" {})))
                  [(if flush? (demonitor r {:flush true}) (demonitor r))
                   (loop [acc []] (receive m (recur (conj acc (if (= r (nth m 1 nil)) :down m)))
                                           (after 0 acc)))])))]
        (is (true? flush-result))
        (is (= (if flush? [[:unrelated 1]] [[:unrelated 1] :down]) left))))))

;; Monitoring a dead pid, an unknown name or an unknown [name node] gives [:DOWN ref :process pid-or-dest :noproc] at once.
(deftest monitor-of-dead-or-unknown-gives-noproc-at-once
  (let [dead (dead-pid)
        node (:node (t/runtime-info))]
    (doseq [dest [dead ::nobody-has-this-name [::nobody-has-this-name node]]]
      (testing (pr-str dest)
        (let [r (monitor dest)]
          (is (instance? Ref r))
          (is (= [:DOWN r :process dest :noproc]
                 (receive ([:DOWN r _ _ _] :as m) m (after 0 :not-delivered-at-once)))))))))

;; trap-exit! sets the flag and returns the old value.
(deftest trap-exit-returns-old-value
  (is (= [false true true false false]
         (schedule (fn [] [(trap-exit! true) (trap-exit! true) (trap-exit! false)
                           (trap-exit! false) (:trap-exit (process-info (self)))])))))

;; A pending exit signal wins over a normal return: a tasklet signalled while busy (not in receive) ends with the signal's reason, not :normal.
(deftest exit-signal-to-a-busy-tasklet-wins-over-return
  (doseq [[signal expected] [[:kill :killed] [:shutdown :shutdown]]]
    (testing (pr-str signal)
      (let [me (self)
            tg (s/tag)
            gate (promise)
            [p ref] (spawn-monitor (fn [] (! me [tg :started]) (deref gate s/wait-ms nil) :returned))]
        (recv [tg :started] :ok)
        (exit p signal)
        (deliver gate :go)
        (is (= expected (await-down ref)))))))

;; (exit pid :kill) ends a tasklet that only sends and never receives (bounded: it stops by itself after wait-ms).
(deftest kill-ends-a-tasklet-that-never-receives
  (let [me (self)
        tg (s/tag)
        stop (atom false)
        sink (spawn (fn [] (receive :stop :ok)))
        deadline (+ (System/currentTimeMillis) s/wait-ms)
        [p ref] (spawn-monitor (fn []
                                 (! me [tg :looping])
                                 (loop [i 0]
                                   (! sink i)
                                   (when-not (or @stop (> (System/currentTimeMillis) deadline))
                                     (recur (inc i))))))]
    (try
      (recv [tg :looping] :ok)
      (exit p :kill)
      (is (= :killed (receive [:DOWN ref :process _ r] r (after 2000 :still-running))))
      (finally
        (reset! stop true)
        (exit sink :kill)
        (t/demonitor ref {:flush true})))))

;; alive? and process-info are ordered after the caller's own exit signals: right after (exit pid :kill) (or another reason that ends pid), the same caller sees pid dead, though pid has not run yet.
(deftest alive-is-ordered-after-own-signals
  (doseq [[signal trap? expected] [[:kill false :killed] [:kill true :killed] [:shutdown false :shutdown]]]
    (testing (pr-str signal (when trap? :trapping))
      (dotimes [_ 100]
        (let [me (self)
              tg (s/tag)
              [p ref] (spawn-monitor (fn [] (trap-exit! trap?) (! me tg) (receive :never nil)))]
          (recv tg :ok)
          (exit p signal)
          (is (false? (alive? p)))
          (is (nil? (process-info p)))
          (is (= expected (await-down ref)))))))
  (testing "a trapped signal does not end it: still alive"
    (let [me (self)
          tg (s/tag)
          [p ref] (spawn-monitor (fn [] (trap-exit! true) (! me tg) (receive :stop :ok)))]
      (recv tg :ok)
      (exit p :shutdown)
      (is (true? (alive? p)))
      (is (some? (process-info p)))
      (! p :stop)
      (is (= :normal (await-down ref))))))

;; check-signals! lets an exit signal end a busy loop that neither sends nor receives (bounded: it stops by itself after wait-ms).
(deftest check-signals-ends-a-busy-loop
  (doseq [signal [:kill :shutdown]]
    (let [me (self)
          tg (s/tag)
          deadline (+ (System/currentTimeMillis) s/wait-ms)
          [p ref] (spawn-monitor (fn []
                                   (! me tg)
                                   (loop [i 0]
                                     (t/check-signals!)
                                     (if (< (System/currentTimeMillis) deadline)
                                       (recur (inc i))
                                       :ran-to-the-end))))]
      (recv tg :ok)
      (exit p signal)
      (is (= ({:kill :killed} signal signal) (receive [:DOWN ref :process _ r] r (after 2000 :still-running)))))))

;; Under the deterministic scheduler (one thread), a busy loop calling check-signals! yields its slice, so the tasklet that signals it gets to run and the loop ends.
(deftest check-signals-yields-under-deterministic-scheduler
  (when (tasklet.test/available?)
    (is (= :killed
           (tasklet.test/with-deterministic-scheduler {:seed 1}
             (let [[p ref] (spawn-monitor (fn [] (loop [] (t/check-signals!) (recur))))]
               (spawn (fn [] (exit p :kill)))
               (receive [:DOWN ref :process _ r] r)))))))
