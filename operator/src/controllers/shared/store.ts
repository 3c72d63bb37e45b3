// A read-only view over one informer per watched namespace (or one for all namespaces).
import type { Informer, InformerHandlers, KubeObject } from '../../kube/index.ts';

export interface Store<T extends KubeObject> {
  get(namespace: string | undefined, name: string): T | undefined;
  list(): T[];
  addHandler(handlers: InformerHandlers<T>): void;
  readonly hasSynced: boolean;
}

export class MultiStore<T extends KubeObject> implements Store<T> {
  readonly #byNamespace: Map<string, Informer<T>>;
  readonly #all: Informer<T> | undefined;

  /** `informers`: one with no namespace (all namespaces), or one per namespace. */
  constructor(informers: Array<{ namespace?: string | undefined; informer: Informer<T> }>) {
    this.#all = informers.find((i) => i.namespace === undefined)?.informer;
    this.#byNamespace = new Map(informers.filter((i) => i.namespace !== undefined).map((i) => [i.namespace!, i.informer]));
  }

  get(namespace: string | undefined, name: string): T | undefined {
    if (this.#all) return this.#all.get(namespace, name);
    return namespace === undefined ? undefined : this.#byNamespace.get(namespace)?.get(namespace, name);
  }

  list(): T[] {
    if (this.#all) return this.#all.list();
    return [...this.#byNamespace.values()].flatMap((i) => i.list());
  }

  addHandler(handlers: InformerHandlers<T>): void {
    for (const i of this.#informers()) i.addHandler(handlers);
  }

  get hasSynced(): boolean {
    return this.#informers().every((i) => i.hasSynced);
  }

  #informers(): Array<Informer<T>> {
    return this.#all ? [this.#all] : [...this.#byNamespace.values()];
  }
}
