(ns tasklet.server-test
  "tasklet.server (doc/reference.md §4). Every test body runs as its own process that
  traps exits, in every mode of tasklet.harness/defsystest: as a fresh plain
  thread on the real node, bounded by a timeout, then as a tasklet under the
  deterministic scheduler (virtual time) with the all-zeros schedule and
  several seeds. It synchronises only by messages and monitors: a server
  tells its owner what it did ([:init-ran], [:deferred], [:terminated
  reason], ...)."
  (:require [tasklet.harness :refer [defsystest quiet-crash-reports]]
            [clojure.test :refer [deftest is testing use-fixtures]]
            [tasklet.core :as t :refer [! receive self]]
            [tasklet.node :as node]
            [tasklet.server :as server]
            [tasklet.test]))

(set! *warn-on-reflection* true)

;; Normal mode only (plain deftest):
;; - remote-call: two distributed nodes talking over TCP (real sockets and
;;   threads, which the deterministic scheduler cannot drive).

;; ---------------------------------------------------------------------------
;; Harness

(use-fixtures :once quiet-crash-reports)

(defn- next-msg
  "The next message, or ::none after ms."
  ([] (next-msg 5000))
  ([ms] (receive m m (after ms ::none))))

(defn- mailbox-empty? []
  (= ::none (next-msg 0)))

(defn- error-of
  "The ex-data :tasklet/error of what (f) throws, or :no-error."
  [f]
  (try (f) :no-error
       (catch clojure.lang.ExceptionInfo e (:tasklet/error (ex-data e)))))

(defn- await-down [mref]
  (receive [:DOWN mref :process _ r] r (after 5000 ::no-down)))

;; ---------------------------------------------------------------------------
;; A counter that reports to its owner

(defn- op [x] (if (vector? x) (first x) x))

(def counter
  {:init (fn [{:keys [owner n]}]
           (! owner [:init-ran (self)])
           {:owner owner :n (or n 0) :pending nil})
   :handle-call (fn [req from s]
                  (case (op req)
                    :get [:reply (:n s) s]
                    :inc (let [s (update s :n inc)] [:reply (:n s) s])
                    :echo [:reply (second req) s]
                    :crash (throw (ex-info "boom" {:op :crash}))
                    :exit (t/exit (second req))
                    :defer (do (! (:owner s) [:deferred])
                               [:noreply (assoc s :pending from)])
                    :defer-elsewhere (do (t/spawn server/reply from (second req))
                                         [:noreply s])
                    :stop [:stop :normal :bye s]
                    :stop-noreply [:stop :done s]
                    :call-self [:reply (server/call (self) :get) s]
                    :slow (do (receive :never nil (after (second req) nil))
                              [:reply :late s])
                    :bad :garbage))
   :handle-cast (fn [msg s]
                  (case (op msg)
                    :release (do (! (:owner s) [:released (server/reply (:pending s) (second msg))])
                                 s)
                    :set (assoc s :n (second msg))
                    :crash (throw (ex-info "cast boom" {}))
                    :stop (server/stop :cast-stop s)))
   :handle-info (fn [msg s] (! (:owner s) [:info msg]) s)
   :terminate (fn [reason s] (! (:owner s) [:terminated reason]))})

(defn- start-counter
  ([] (start-counter nil))
  ([opts] (server/start-link counter {:owner (self)} opts)))

(defn- init-ran! []
  (receive [:init-ran p] p (after 5000 ::none)))

;; ---------------------------------------------------------------------------
;; Starting

;; start-link returns only after :init ran; call replies in order.
(defsystest call-reply
  (let [s (start-counter)]
    (is (not= ::none (next-msg 0)) "[:init-ran] is already in the mailbox when start-link returns")
    (is (= 1 (server/call s :inc)))
    (is (= 2 (server/call s :inc 100)))
    (is (= 2 (server/call s :get :infinity)))
    (is (= [:x] (server/call s [:echo [:x]])))
    (is (nil? (server/call s [:echo nil])))))

;; {:name kw} registers before :init; call/cast reach a name and [name node].
(defsystest named-server
  (let [s (start-counter {:name ::named})
        node (:node (t/runtime-info))]
    (init-ran!)
    (is (= s (t/whereis ::named)))
    (is (= 1 (server/call ::named :inc)))
    (is (= 2 (server/call [::named node] :inc)))
    (is (nil? (server/cast [::named node] [:set 10])))
    (is (= 10 (server/call ::named :get)))
    (testing "a second server cannot take the name"
      (is (= :badarg (error-of #(start-counter {:name ::named}))))
      (is (= s (t/whereis ::named))))))

;; :init throwing makes start-link throw it; the caller stays alive, unlinked, and the name is free again.
(defsystest init-throws
  (let [bad {:init (fn [owner] (! owner [:pid (self)]) (throw (ex-info "init boom" {:why 1})))}
        e (try (server/start-link bad (self) {:name ::init-fails}) nil
               (catch clojure.lang.ExceptionInfo e e))
        pid (receive [:pid p] p (after 5000 nil))]
    (is (= "init boom" (ex-message e)))
    (is (= {:why 1} (ex-data e)))
    (is (not (some #{pid} (:links (t/process-info (self))))) "unlinked before start-link returned")
    (is (not= ::no-down (await-down (t/monitor pid))) "the server ended")
    (is (= ::none (next-msg 0)) "no [:EXIT ...] for the caller")
    (is (nil? (t/whereis ::init-fails)))
    (let [ok (server/start {:init identity} 1 {:name ::init-fails})]
      (is (= ok (t/whereis ::init-fails)))
      (t/exit ok :kill))))

;; a malformed implementation, option or timeout is refused with :badarg before anything runs.
(defsystest malformed-arguments
  (is (= :badarg (error-of #(server/start [:not :a :map] 1))))
  (is (= :badarg (error-of #(server/start {:init 42} 1))))
  (is (= :init (:key (try (server/start {:init 42} 1) (catch Exception e (ex-data e))))))
  (is (= :badarg (error-of #(server/start {} 1 {:name "str"}))))
  (let [s (server/start {} 1)]
    (is (= :badarg (error-of #(server/call s :x -1))))
    (is (= :badarg (error-of #(server/call "nope" :x))))
    (t/exit s :kill))
  (is (mailbox-empty?)))

;; ---------------------------------------------------------------------------
;; Calls

;; a call that gets no reply in time throws :timeout; the reply sent later is dropped, never delivered.
(defsystest call-timeout-late-reply-dropped
  (let [s (start-counter)]
    (init-ran!)
    (is (= :timeout (error-of #(server/call s :defer 50))))
    (is (= [:deferred] (next-msg)))
    (server/cast s [:release :late])
    (is (= [:released false] (next-msg)) "reply reports that nobody waits any more")
    (is (= 0 (server/call s :get)) "the server went on")
    (is (mailbox-empty?) "the late reply never landed")))

;; a call that times out while its handler is still busy: the next call waits behind it and gets its own reply, and the late reply to the first never lands.
(defsystest call-timeout-busy-handler
  (let [s (server/start-link counter {:owner (self) :n 5})]
    (init-ran!)
    (is (= :timeout (error-of #(server/call s [:slow 100] 10))))
    (is (= 5 (server/call s :get 1000)))
    (is (= ::none (next-msg 500)) "the late reply never landed")))

;; calls from several tasklets at once are each answered, and the state sees every one of them.
(defsystest concurrent-calls
  (let [s (start-counter)
        me (self)]
    (init-ran!)
    (dotimes [_ 2] (t/spawn (fn [] (! me [:got (server/call s :inc)]))))
    (is (= [1 2] (sort [(receive [:got n] n (after 5000 nil)) (receive [:got n] n (after 5000 nil))])))
    (is (= 2 (server/call s :get)))))

;; racing timeouts against replies: every call either returns its value or throws :timeout, and no reply is ever left behind.
(defsystest late-replies-never-land
  (let [s (start-counter)
        ;; seeded, so that a deterministic run replays
        rnd (java.util.Random. 2000)
        outcomes (frequencies
                   (for [i (range 2000)]
                     (try (if (= i (server/call s [:echo i] (.nextInt rnd 2))) :ok :wrong)
                          (catch clojure.lang.ExceptionInfo e (:tasklet/error (ex-data e))))))]
    (init-ran!)
    (is (= #{} (disj (set (keys outcomes)) :ok :timeout)) (pr-str outcomes))
    (is (= 0 (server/call s :get)))
    (is (mailbox-empty?))))

;; a reply that arrives before the caller reaches its receive is still found (the mark is set before the send).
(defsystest reply-before-receive
  (let [s (start-counter)]
    (init-ran!)
    (is (= (range 3000) (mapv #(server/call s [:echo %] 2000) (range 3000))))))

;; a backlog in the caller's mailbox is neither taken nor disturbed by calls.
(defsystest call-keeps-backlog
  (let [s (start-counter)]
    (init-ran!)
    (dotimes [i 1000] (! (self) [:backlog i]))
    (is (= 10 (last (for [_ (range 10)] (server/call s :inc)))))
    (is (= (range 1000) (for [_ (range 1000)] (receive [:backlog i] i (after 0 nil)))))
    (is (mailbox-empty?))))

;; [:noreply state] then `reply` from a cast later answers the waiting caller.
(defsystest noreply-then-reply
  (let [s (start-counter)
        me (self)]
    (init-ran!)
    (t/spawn (fn [] (! me [:result (server/call s :defer)])))
    (is (= [:deferred] (next-msg)))
    (server/cast s [:release 42])
    (is (= #{[:released true] [:result 42]} (hash-set (next-msg) (next-msg))))
    (testing "reply from another tasklet"
      (is (= :elsewhere (server/call s [:defer-elsewhere :elsewhere]))))
    (testing "a second reply to the same call is refused"
      (server/cast s [:release 43])
      (is (= [:released false] (next-msg)))
      (is (mailbox-empty?)))))

;; a call to a dead pid, an unknown name or an unreachable node throws; a cast to them is silently dropped; nothing is left in the mailbox.
(defsystest call-dead-server-noproc
  (let [s (start-counter)
        mref (t/monitor s)]
    (init-ran!)
    (t/exit s :kill)
    (is (= :killed (await-down mref)))
    (is (= [:EXIT s :killed] (next-msg 0)) "the link's signal came before the :DOWN")
    (is (= :noproc (error-of #(server/call s :get))))
    (is (= :noproc (error-of #(server/call ::nobody :get))))
    (is (nil? (server/cast s :x)))
    (is (nil? (server/cast ::nobody :x)))
    (is (#{:not-connected :noconnection :noproc} (error-of #(server/call [::nobody :elsewhere] :get)))
        "an unreachable node")
    (is (nil? (server/cast [::nobody :elsewhere] :x)))
    (is (mailbox-empty?))))

;; a server killed while a call waits: the caller throws the exit reason (:killed) at once.
(defsystest server-dies-mid-call
  (let [s (start-counter)
        me (self)]
    (init-ran!)
    (t/spawn (fn [] (! me [:result (try (server/call s :defer :infinity)
                                        (catch clojure.lang.ExceptionInfo e (ex-data e)))])))
    (is (= [:deferred] (next-msg)))
    (t/exit s :kill)
    (let [data (receive [:result d] d (after 5000 nil))]
      (is (= :exit (:tasklet/error data)))
      (is (= :killed (:reason data))))
    (is (= :killed (receive [:EXIT s r] r (after 5000 nil))))))

;; a server calling itself gets :badarg (it would wait for ever), which crashes it; the caller sees that.
(defsystest call-self-badarg
  (let [s (start-counter)]
    (init-ran!)
    (let [e (try (server/call s :call-self) nil (catch Exception e e))]
      (is (= :exit (:tasklet/error (ex-data e))))
      (is (= :badarg (:tasklet/error (ex-data (ex-cause e))))))))

;; ---------------------------------------------------------------------------
;; Stopping and crashing

;; [:stop reason reply state]: :terminate runs, the caller gets the reply, the server exits with reason.
(defsystest stop-with-reply
  (let [s (start-counter)
        mref (t/monitor s)]
    (init-ran!)
    (is (= :bye (server/call s :stop)))
    (is (= [:terminated :normal] (next-msg)))
    (is (= :normal (await-down mref)))))

;; [:stop reason state] from :handle-call: :terminate runs and the caller sees the reason.
(defsystest stop-without-reply
  (let [s (start-counter)
        e (try (server/call s :stop-noreply) (catch clojure.lang.ExceptionInfo e (ex-data e)))]
    (init-ran!)
    (is (= {:tasklet/error :exit :reason :done :server s :request :stop-noreply}
           (select-keys e [:tasklet/error :reason :server :request])))
    (is (= [:terminated :done] (next-msg)))
    (is (= [:EXIT s :done] (next-msg)))))

;; (stop reason state) from :handle-cast runs :terminate and exits with reason.
(defsystest cast-stop
  (let [s (start-counter)
        mref (t/monitor s)]
    (init-ran!)
    (server/cast s [:stop])
    (is (= [:terminated :cast-stop] (next-msg)))
    (is (= :cast-stop (await-down mref)))))

;; a :handle-call that throws: :terminate gets the exception, the server exits with it, the caller gets ex-info :exit with that exception as :reason and cause.
(defsystest handler-exception-in-call
  (let [s (start-counter)
        mref (t/monitor s)
        e (try (server/call s :crash) nil (catch Exception e e))
        cause (ex-cause e)]
    (init-ran!)
    (is (= {:tasklet/error :exit :server s :request :crash}
           (select-keys (ex-data e) [:tasklet/error :server :request])))
    (is (= "boom" (ex-message cause)))
    (is (identical? cause (:reason (ex-data e))))
    (let [[tag reason] (next-msg)]
      (is (= :terminated tag))
      (is (identical? cause reason)))
    (is (identical? cause (await-down mref)))))

;; a handler's (exit reason): :terminate runs with that reason (not an internal object), the server exits with it, the caller gets ex-info :exit.
(defsystest handler-exit-runs-terminate
  (let [s (start-counter)
        mref (t/monitor s)
        e (try (server/call s [:exit :bye]) nil (catch Exception e e))]
    (init-ran!)
    (is (= {:tasklet/error :exit :reason :bye :server s :request [:exit :bye]}
           (select-keys (ex-data e) [:tasklet/error :reason :server :request])))
    (is (nil? (ex-cause e)))
    (is (= [:terminated :bye] (next-msg)))
    (is (= :bye (await-down mref)))
    (is (= :bye (receive [:EXIT s r] r (after 5000 nil))))
    (testing "an exit signal from another tasklet ends it without :terminate (it does not trap exits)"
      (let [s2 (start-counter)
            mref2 (t/monitor s2)]
        (init-ran!)
        (t/exit s2 :shutdown)
        (is (= :shutdown (await-down mref2)))
        (is (= [:EXIT s2 :shutdown] (next-msg)))
        (is (mailbox-empty?) "no [:terminated ...]")))))

;; a :handle-cast that throws ends the server with that exception after :terminate ran with it.
(defsystest handler-exception-in-cast
  (let [s (start-counter)
        mref (t/monitor s)]
    (init-ran!)
    (server/cast s [:crash])
    (let [[tag reason] (next-msg)
          down (await-down mref)]
      (is (= :terminated tag))
      (is (= "cast boom" (ex-message reason)))
      (is (identical? reason down)))))

;; a :handle-call returning something else crashes the server with :bad-return; the caller sees it.
(defsystest bad-return
  (let [s (start-counter)
        mref (t/monitor s)]
    (init-ran!)
    (is (= :bad-return (:tasklet/error (ex-data (ex-cause (try (server/call s :bad) (catch Exception e e)))))))
    (is (= :terminated (first (next-msg))))
    (is (= :bad-return (:tasklet/error (ex-data (await-down mref)))))))

;; a trapping server stops with its parent's reason when its parent ends, running :terminate (OTP's parent rule).
(defsystest parent-exit-runs-terminate
  (let [me (self)
        impl (assoc counter :init (fn [owner] (t/trap-exit! true) (! owner [:init-ran (self)]) {:owner owner}))
        parent (t/spawn (fn [] (server/start-link impl me) (receive [:go] (t/exit :parent-gone))))
        s (init-ran!)
        mref (t/monitor s)]
    (! parent [:go])
    (is (= [:terminated :parent-gone] (next-msg)))
    (is (= :parent-gone (await-down mref)))))

;; ---------------------------------------------------------------------------
;; Other messages

;; plain messages (nil included) go to :handle-info; without one they are dropped.
(defsystest handle-info
  (let [s (start-counter)]
    (init-ran!)
    (! s [:hello])
    (! s nil)
    (is (= [:info [:hello]] (next-msg)))
    (is (= [:info nil] (next-msg)))
    (let [quiet (server/start-link {:handle-call (fn [r _ s] [:reply r s])} 0)]
      (! quiet :ignored)
      (is (= :still-here (server/call quiet :still-here))))))

;; ---------------------------------------------------------------------------
;; Several calls in flight

;; send-request to several servers at once; receive-response takes each reply; check-response tells a response from other messages.
(defsystest send-request-several-in-flight
  (let [s1 (server/start-link counter {:owner (self) :n 10})
        s2 (server/start-link counter {:owner (self) :n 20})]
    (init-ran!)
    (init-ran!)
    (let [r1 (server/send-request s1 :inc)
          r2 (server/send-request s2 :inc)
          r3 (server/send-request s1 [:echo :x])]
      (is (= 21 (server/receive-response r2 5000)))
      (is (= 11 (server/receive-response r1 5000)))
      (is (= :x (server/receive-response r3 5000))))
    (let [r (server/send-request s1 :get)
          msg (receive ([:tasklet/reply _ _] :as m) m (after 5000 nil))]
      (is (= :no-reply (server/check-response [:other] r)))
      (is (= [:reply 11] (server/check-response msg r))))
    (is (mailbox-empty?) "no monitor or :DOWN left behind")))

;; receive-response's timeout leaves the request id valid: the reply is taken later; a dead or unknown server answers :exit/:noproc through the response.
(defsystest receive-response-timeout-keeps-the-request
  (let [s (start-counter)]
    (init-ran!)
    (let [r (server/send-request s :defer)]
      (is (= [:deferred] (next-msg)))
      (is (= :timeout (error-of #(server/receive-response r 20))))
      (is (= :timeout (error-of #(server/receive-response r 0))))
      (server/cast s [:release :late])
      (is (true? (receive [:released x] x (after 5000 nil))) "the request was still in flight: its alias took the reply")
      (is (= :late (server/receive-response r 5000))))
    (let [r (server/send-request s [:exit :gone])]
      (is (= {:tasklet/error :exit :reason :gone}
             (select-keys (try (server/receive-response r 5000) (catch Exception e (ex-data e)))
                          [:tasklet/error :reason]))))
    (is (= [:terminated :gone] (next-msg)))
    (is (= [:EXIT s :gone] (next-msg)))
    (is (= :noproc (error-of #(server/receive-response (server/send-request s :get) 5000))))
    (is (= :noproc (error-of #(server/receive-response (server/send-request ::nobody :get) 5000))))
    (is (mailbox-empty?))))

;; the kernel drops a reply sent through the alias of a call that gave up; nothing is ever forwarded by a relay.
(defsystest late-reply-dropped-by-the-alias
  (let [s (start-counter)]
    (init-ran!)
    (is (= :timeout (error-of #(server/call s :defer 10))))
    (is (= [:deferred] (next-msg)))
    (let [before (count (t/processes))]
      (server/cast s [:release :late])
      (is (= [:released false] (next-msg)) "reply reports the drop")
      (is (= before (count (t/processes))) "no relay tasklet"))
    (is (mailbox-empty?))))

;; ---------------------------------------------------------------------------
;; Across nodes

(def remote-counter
  {:init (fn [n] {:n n})
   :handle-call (fn [req from s]
                  (case req
                    :inc [:reply (inc (:n s)) (update s :n inc)]
                    :defer [:noreply (assoc s :from from)]
                    :crash (throw (ex-info "remote boom" {:where :remote}))))
   :handle-cast (fn [_ s] (assoc s :late-reply-sent (server/reply (:from s) :late)))})

(defn- remote-session
  "On node a, with the server registered as ::remote on node b: the outcomes
  of calls and casts by [name node] and by pid."
  [b-name b-address srv]
  (node/connect! b-address)
  (let [dest [::remote b-name]
        err #(try (%) :no-error (catch clojure.lang.ExceptionInfo e (:tasklet/error (ex-data e))))]
    (array-map
      :by-name (server/call dest :inc)
      :by-pid (server/call srv :inc 1000)
      :timeout (err #(server/call dest :defer 100))
      :after-late-reply (do (server/cast dest :release) (server/call dest :inc))
      :mailbox-after (receive m [:stray m] (after 0 :empty))
      :in-flight (let [a (server/send-request dest :inc) b (server/send-request srv :inc)]
                   (sort [(server/receive-response b 5000) (server/receive-response a 5000)]))
      :request-timeout (let [r (server/send-request dest :defer)]
                         [(err #(server/receive-response r 50))
                          (do (server/cast dest :release) (server/receive-response r 5000))])
      :crash (try (server/call dest :crash)
                  (catch Exception e [(:tasklet/error (ex-data e)) (ex-message (ex-cause e))
                                      (:where (ex-data (ex-cause e)))]))
      :dead (err #(server/call dest :inc))
      :cast-dead (server/cast dest :x)
      :mailbox-end (receive m [:stray m] (after 0 :empty)))))

;; call and cast by [name node] and remote pid: replies, :timeout with the late reply dropped (the relay), a remote crash, a dead server.
(deftest remote-call
  (let [a (node/start! {:name :server-test-a :cookie "server-test" :default? false})
        b (node/start! {:name :server-test-b :cookie "server-test" :default? false})]
    (try
      (let [srv (node/run-on b #(server/start remote-counter 0 {:name ::remote}))
            r (node/run-on a remote-session (:name b) (:address b) srv)]
        (is (= {:by-name 1 :by-pid 2 :timeout :timeout :after-late-reply 3 :mailbox-after :empty
                :in-flight [4 5] :request-timeout [:timeout :late]
                :crash [:exit "remote boom" :remote] :dead :noproc :cast-dead nil :mailbox-end :empty}
               r)))
      (finally
        (node/stop! a)
        (node/stop! b)))))

;; reply to a `from` that other call code made without an alias ({:pid :tag}, optionally a :gate): the earlier [tag value] message, at most once per gate.
(defsystest reply-to-a-from-without-alias
  (let [tag (t/make-ref)
        gate (java.util.concurrent.atomic.AtomicBoolean.)]
    (is (true? (server/reply {:pid (self) :tag tag} :plain)))
    (is (= [tag :plain] (next-msg)))
    (is (true? (server/reply {:pid (self) :tag tag :gate gate} :once)))
    (is (false? (server/reply {:pid (self) :tag tag :gate gate} :twice)))
    (is (= [tag :once] (next-msg)))
    (is (mailbox-empty?))))

;; Under every interleaving test.check tries: a call that gives up at once (timeout 0) while another tasklet replies either gets the reply or throws :timeout, and the reply never lands afterwards (the alias is a clean cut).
(deftest late-reply-never-lands-under-interleavings
  (when (tasklet.test/available?)
    (let [system (fn []
                   (let [s (server/start {:handle-call (fn [_ from st]
                                                         (t/spawn (fn [] (server/reply from :v)))
                                                         [:noreply st])}
                                         0)
                         r (try (server/call s :x 0)
                                (catch clojure.lang.ExceptionInfo e (:tasklet/error (ex-data e))))]
                     (receive (after 10 nil))   ; virtual time: the replier has long finished
                     (let [left (receive m m (after 0 ::none))]
                       (t/exit s :kill)
                       [r left])))
          res (tasklet.test/check-interleavings {:num-tests 100 :quiet? true} system
                                                (fn [[r left]] (and (#{:v :timeout} r) (= ::none left))))]
      (is (:pass? res) (:report res)))))
