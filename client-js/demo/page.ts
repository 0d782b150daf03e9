// Page plumbing shared by the demo and the replay viewer: element lookup and the message banner.

/** byId returns the element with this id; a page without it is a build error worth failing on. */
export function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`#${id} missing`);
  return el as T;
}

/** BannerAction is the banner's optional button. */
export interface BannerAction {
  label: string;
  run: () => void;
}

/** Banner is the page's one-line message (#banner, #banner-text, #banner-action). */
export class Banner {
  private readonly box = byId("banner");
  private readonly text = byId("banner-text");
  private readonly action = byId<HTMLButtonElement>("banner-action");

  show(text: string, kind: "error" | "warn" | "info", action?: BannerAction): void {
    this.text.textContent = text;
    this.box.dataset.kind = kind;
    this.box.hidden = false;
    this.action.hidden = action === undefined;
    this.action.onclick = action === undefined ? null : () => action.run();
    if (action !== undefined) this.action.textContent = action.label;
  }

  hide(): void {
    this.box.hidden = true;
  }
}
