// The slice of the Plotly API the charts use (plotly.js-dist-min ships no types).
declare module 'plotly.js-dist-min' {
  export type PlotlyHTMLElement = HTMLDivElement;
  export type Data = Record<string, unknown>;
  export type Layout = Record<string, unknown>;
  export type Config = Record<string, unknown>;
  export interface ImageOptions {
    format: 'png' | 'svg' | 'jpeg' | 'webp';
    width?: number;
    height?: number;
    filename?: string;
  }
  export function react(
    el: HTMLElement,
    data: Data[],
    layout?: Layout,
    config?: Config,
  ): Promise<PlotlyHTMLElement>;
  export function purge(el: HTMLElement): void;
  export function downloadImage(el: HTMLElement, opts: ImageOptions): Promise<string>;
  export function toImage(el: HTMLElement, opts: ImageOptions): Promise<string>;
  const Plotly: {
    react: typeof react;
    purge: typeof purge;
    downloadImage: typeof downloadImage;
    toImage: typeof toImage;
  };
  export default Plotly;
}
