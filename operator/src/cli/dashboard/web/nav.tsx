// In-page navigation: links that change the URL without reloading the page.
import type { ComponentChildren } from 'preact';
export function navigate(path: string): void {
  history.pushState(null, '', path);
  dispatchEvent(new PopStateEvent('popstate'));
}

/** A link that stays in the page (and still opens in a new tab with a modifier key). */
export function Link(props: { href: string; children: ComponentChildren; class?: string }) {
  return (
    <a href={props.href} class={props.class} onClick={(e) => {
      if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      e.preventDefault();
      navigate(props.href);
    }}>{props.children}</a>
  );
}
