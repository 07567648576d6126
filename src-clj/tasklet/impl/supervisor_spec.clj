(ns ^:no-doc tasklet.impl.supervisor-spec
  "A supervisor's spec and its child specs (OTP's sup_flags and child_spec):
  validation, with an error naming the bad key before anything starts, and a
  child spec with its defaults. Internal to tasklet.supervisor."
  (:require [tasklet.impl.error :refer [error function?]]))

(set! *warn-on-reflection* true)

(defn- supervisor-start?
  "True when start function f is tasklet.supervisor/run (the fn or its var):
  then the child is a supervisor, and its argument is a spec to check too.
  Looked up by name, since tasklet.supervisor requires this namespace."
  [f]
  (when-let [v (find-var 'tasklet.supervisor/run)]
    (or (identical? f v) (identical? f @v))))

(def ^:private strategies #{:one-for-one :one-for-all :rest-for-one :simple-one-for-one})
(def ^:private restart-types #{:permanent :transient :temporary})
(def ^:private child-types #{:worker :supervisor})

(defn- check-key [m k ok? expected what]
  (let [v (get m k)]
    (when-not (or (nil? v) (ok? v))
      (throw (error :badarg (str what k " must be " expected ", got " (pr-str v))
                            {:key k :value v})))))

(declare check-spec)

(defn check-child
  "Throws ex-info {:tasklet/error :badarg :key k} unless child spec c is well
  formed (a nested supervisor's spec included)."
  [c]
  (when-not (map? c)
    (throw (error :badarg (str "a child spec is a map with :id and :start, got " (pr-str c))
                          {:key :children :value c})))
  (let [what (str "child spec " (pr-str (:id c)) ": ")]
    (when (nil? (:id c))
      (throw (error :badarg (str "child spec " (pr-str c) " has no :id; give each child a unique :id")
                            {:key :id :value nil})))
    (when-not (and (vector? (:start c)) (function? (first (:start c))))
      (throw (error :badarg (str what ":start must be [f & args] with f a function or a var, got "
                                 (pr-str (:start c)))
                            {:key :start :value (:start c) :id (:id c)})))
    (check-key c :restart restart-types "one of :permanent :transient :temporary" what)
    (check-key c :shutdown #(or (nat-int? %) (#{:brutal-kill :infinity} %))
               "milliseconds, :infinity or :brutal-kill" what)
    (check-key c :type child-types "one of :worker :supervisor" what)
    (let [[f spec] (:start c)]
      (when (supervisor-start? f) (check-spec spec)))))

(defn- check-ids [children]
  (reduce (fn [seen {:keys [id]}]
            (if (contains? seen id)
              (throw (error :badarg (str "two children have the :id " (pr-str id) "; ids must be unique")
                                    {:key :id :value id}))
              (conj seen id)))
          #{} children))

(defn check-spec
  "Throws ex-info {:tasklet/error :badarg :key k} unless spec is well formed."
  [spec]
  (when-not (map? spec)
    (throw (error :badarg (str "a supervisor spec is a map like {:strategy :one-for-one :children [...]}, got "
                               (pr-str spec))
                          {:key :spec :value spec})))
  (let [what "supervisor spec: "]
    (check-key spec :strategy strategies
               "one of :one-for-one :one-for-all :rest-for-one :simple-one-for-one" what)
    (check-key spec :intensity nat-int? "a non-negative integer" what)
    (check-key spec :period-ms pos-int? "a positive integer (ms)" what)
    (check-key spec :children sequential? "a vector of child specs" what)
    (check-key spec :max-children #(or (nat-int? %) (= :infinity %))
               "a non-negative integer or :infinity" what)
    (if (= :simple-one-for-one (:strategy spec))
      (when-not (= 1 (count (:children spec)))
        (throw (error :badarg (str what "a :simple-one-for-one supervisor has exactly one child spec in"
                                   " :children (the template of its children), got "
                                   (count (:children spec)))
                              {:key :children :value (:children spec)})))
      (when (contains? spec :max-children)
        (throw (error :badarg (str what ":max-children is for :simple-one-for-one supervisors only;"
                                   " remove it or change the :strategy")
                              {:key :max-children :value (:max-children spec)})))))
  (run! check-child (:children spec))
  (check-ids (:children spec))
  spec)

(defn child
  "A checked child spec with its defaults, not running."
  [c]
  (let [type (or (:type c) (if (supervisor-start? (first (:start c))) :supervisor :worker))]
    {:id (:id c)
     :start (:start c)
     :restart (or (:restart c) :permanent)
     :shutdown (or (:shutdown c) (if (= :supervisor type) :infinity 5000))
     :type type
     :pid nil}))
