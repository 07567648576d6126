(ns tasklet.core.errors-test
  "doc/reference.md §6, errors: every error that tasklet.core raises is an ex-info whose
  data has a :tasklet/error keyword, with a message. One table of bad calls,
  made from a plain thread and again from inside a tasklet."
  (:require [clojure.string :as str]
            [clojure.test :refer [deftest is testing]]
            [tasklet.core :as t :refer [spawn spawn-link spawn-monitor ! receive self exit
                                        link unlink monitor demonitor register unregister
                                        alive? process-info schedule]]
            [tasklet.core.support :as s :refer [await-down start-probe]]))

(set! *warn-on-reflection* true)

(defn- bad-calls
  "[description expected-kind thunk]: each thunk must throw."
  [live free dead]
  [["! to an unregistered name"          :noproc        #(! ::nobody :msg)]
   ["! to something not an address"     :badarg        #(! "not-a-dest" :msg)]
   ["! to nil"                          :badarg        #(! nil :msg)]
   ["! to a name on an unknown node"    :not-connected #(! [::nobody :no-such-node] :msg)]
   ["spawn of a non-function"           :badarg        #(spawn 42)]
   ["spawn-link of a non-function"      :badarg        #(spawn-link "x")]
   ["spawn-monitor of a non-function"   :badarg        #(spawn-monitor nil)]
   ["schedule of a non-function"        :badarg        #(schedule :not-a-fn)]
   ["register a taken name"             :badarg        #(register ::errors-taken free)]
   ["register a dead pid"               :badarg        #(register ::errors-dead dead)]
   ["register a pid that has a name"    :badarg        #(register ::errors-second live)]
   ["register a non-keyword name"       :badarg        #(register "name" free)]
   ["register a non-pid"                :badarg        #(register ::errors-x :not-a-pid)]
   ["unregister an unknown name"        :badarg        #(unregister ::errors-unknown)]
   ["link to a non-pid"                 :badarg        #(link :not-a-pid)]
   ["unlink a non-pid"                  :badarg        #(unlink 42)]
   ["monitor a non-address"             :badarg        #(monitor 42)]
   ["exit to a non-pid"                 :badarg        #(exit :not-a-pid :reason)]
   ["demonitor a non-ref"               :badarg        #(demonitor 42)]
   ["alive? of a non-pid"               :badarg        #(alive? :x)]
   ["process-info of a non-pid"         :badarg        #(process-info "x")]
   ["receive with a bad timeout"        :badarg        #(let [ms "soon"] (receive [:never] 1 (after ms 2)))]
   ["receive with a negative timeout"   :badarg        #(let [ms -1] (receive [:never] 1 (after ms 2)))]
   ["read a malformed pid"              :badarg        #(t/read-pid [:nonode "1"])]])

(defn- outcome
  "What calling thunk does: [:ex-info kind message] or [:other class-name] or [:no-throw]."
  [thunk]
  (try (thunk) [:no-throw]
       (catch clojure.lang.ExceptionInfo e [:ex-info (:tasklet/error (ex-data e)) (ex-message e)])
       (catch Throwable e [:other (.getName (class e)) (ex-message e)])))

(defn- check-all [outcomes]
  (doseq [[desc kind [what k msg]] outcomes]
    (testing desc
      (is (= [:ex-info kind] [what k]))
      (when (= :ex-info what)
        (is (and (string? msg) (not (str/blank? msg))) "a message that says what to do")))))

;; Every error of the §1 API, called from a plain thread, is an ex-info with :tasklet/error and a message.
(deftest errors-are-ex-info-from-plain-thread
  (let [live (start-probe)
        dead (let [[p r] (spawn-monitor (fn []))] (await-down r) p)
        taker (start-probe)
        free (start-probe)]
    (register ::errors-taken taker)
    (register ::errors-first live)
    (try
      (check-all (for [[desc kind thunk] (bad-calls live free dead)] [desc kind (outcome thunk)]))
      (finally (doseq [p [live taker free]] (s/kill-and-wait p))))))

;; The same errors raised inside a tasklet are ex-info with :tasklet/error too.
(deftest errors-are-ex-info-in-tasklet
  (let [live (start-probe)
        dead (let [[p r] (spawn-monitor (fn []))] (await-down r) p)
        taker (start-probe)
        free (start-probe)]
    (register ::errors-taken taker)
    (register ::errors-first live)
    (try
      (check-all (schedule (fn [] (vec (for [[desc kind thunk] (bad-calls live free dead)]
                                         [desc kind (outcome thunk)])))))
      (finally (doseq [p [live taker free]] (s/kill-and-wait p))))))

;; receive's syntax errors are ex-info :badarg too (wrapped by the compiler in a CompilerException).
(deftest receive-syntax-errors-are-ex-info
  (doseq [form ['(tasklet.core/receive [:a]) '(tasklet.core/receive (after 1 :t) [:a] :a)
                '(tasklet.core/receive [:a] :a (after "x" :t))]]
    (let [e (s/thrown-error (macroexpand form))]
      (is (instance? clojure.lang.ExceptionInfo e) (pr-str form))
      (is (= :badarg (:tasklet/error (ex-data e))))
      (is (not (str/blank? (ex-message e)))))))
