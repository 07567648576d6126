(ns tasklet.sys-test
  "tasklet.sys on servers (doc/reference.md §7): get-state, replace-state, suspend,
  resume, statistics; and servers' crash reports carrying the last message
  and the state. The system tests run in every mode of
  tasklet.harness/defsystest (real node, then the deterministic scheduler in
  virtual time)."
  (:require [clojure.string :as str]
            [clojure.test :refer [deftest is testing use-fixtures]]
            [tasklet.harness :refer [defsystest quiet-crash-reports]]
            [tasklet.core :as t :refer [! receive self]]
            [tasklet.core.support :as s]
            [tasklet.server :as server]
            [tasklet.supervisor :as sup]
            [tasklet.sys :as sys]))

(set! *warn-on-reflection* true)

(use-fixtures :once quiet-crash-reports)

(def ^:private logger
  "A server whose state is the vector of what it was cast, in order."
  {:init (fn [v] v)
   :handle-call (fn [req _ v] (case req :log [:reply v v] :crash (throw (ex-info "crash" {}))))
   :handle-cast (fn [x v] (conj v x))
   :handle-info (fn [x v] (conj v [:info x]))})

(defn- error-of [f]
  (try (f) :no-error (catch clojure.lang.ExceptionInfo e (:tasklet/error (ex-data e)))))

;; get-state reads the state; replace-state sets (f state) and returns it; calls see it.
(defsystest get-and-replace-state
  (let [s (server/start-link logger [:a])]
    (is (= [:a] (sys/get-state s)))
    (is (= [:a :b] (sys/replace-state s #(conj % :b))))
    (is (= [:a :b] (server/call s :log)))
    (is (= [:a :b] (sys/get-state s 1000)))))

;; replace-state with an f that throws: ex-info :callback-failed with f's exception as cause; the state is unchanged and the server goes on.
(defsystest replace-state-failure-keeps-the-state
  (let [s (server/start-link logger [:a])
        e (try (sys/replace-state s (fn [_] (throw (ex-info "bad f" {:f 1})))) nil
               (catch clojure.lang.ExceptionInfo e e))]
    (is (= :callback-failed (:tasklet/error (ex-data e))))
    (is (= "bad f" (ex-message (ex-cause e))))
    (is (= [:a] (sys/get-state s)))
    (is (= [:a] (server/call s :log)))))

;; a suspended server answers only sys; casts, calls and plain messages wait, in order, and are handled after resume.
(defsystest suspend-queues-until-resume
  (let [s (server/start-link logger [])]
    (is (= :ok (sys/suspend s)))
    (server/cast s 1)
    (! s :plain)
    (server/cast s 2)
    (let [r (server/send-request s :log)]
      (is (= :timeout (error-of #(server/receive-response r 50))) "the call waits")
      (is (= [] (sys/get-state s)) "sys still answers; nothing was handled")
      (is (= 0 (:messages-in (sys/statistics s))))
      (is (= :ok (sys/resume s)))
      (is (= [1 [:info :plain] 2] (server/receive-response r 5000)) "handled in order after resume"))
    (is (= :ok (sys/resume s)) "resume when not suspended is harmless")))

;; statistics: start and now on the node's clock, and the non-system messages handled.
(defsystest statistics-count-and-clock
  (let [s (server/start-link logger [])
        t0 (t/monotonic-ms)]
    (server/cast s :x)
    (server/call s :log)
    (sys/get-state s)
    (receive (after 100 nil))
    (let [{:keys [start-ms now-ms messages-in]} (sys/statistics s)]
      (is (= 2 messages-in) "the cast and the call; sys requests do not count")
      (is (<= start-ms t0))
      (is (<= 100 (- now-ms start-ms)))
      (is (<= now-ms (t/monotonic-ms))))))

;; sys on a dead server or an unknown name throws :noproc, as call does; a supervisor answers too (it is a server).
(defsystest sys-errors-and-supervisors
  (let [s (server/start logger [])
        mref (t/monitor s)]
    (t/exit s :kill)
    (receive [:DOWN mref :process _ _] nil (after 5000 nil))
    (is (= :noproc (error-of #(sys/get-state s))))
    (is (= :noproc (error-of #(sys/suspend ::nobody))))
    (is (= :badarg (error-of #(sys/replace-state (self) inc))))
    (let [sv (sup/start-link {:strategy :one-for-one :children []})]
      (is (some? (sys/get-state sv)))
      (is (map? (sys/statistics sv))))))

;; a server's crash report carries its last message and its state, printed and truncated.
(deftest crash-report-carries-last-message-and-state
  (let [reports (atom [])
        h (fn [{:keys [pid reason context]}] (swap! reports conj [pid reason context]))]
    (s/with-crash-handler h
      (fn []
        (let [srv (server/start logger (vec (range 1000)))]
          (is (= :exit (error-of #(server/call srv :crash))))
          (is (s/eventually #(seq @reports)))
          (let [[pid cause {:keys [last-message state]}] (first @reports)]
            (is (= srv pid))
            (is (= "crash" (ex-message cause)))
            (is (str/starts-with? last-message "[:tasklet/call "))
            (is (str/includes? last-message ":crash"))
            (is (str/starts-with? state "[0 1 2 3 4 5 6 7 8 9 ..."))
            (is (< (count state) 100) "truncated")))))))
