/** Colours per port type, shared by handles, edges and the legend. */
import type { PortType } from '../../../shared/nodes/spec.ts';

export const PORT_COLORS: Record<PortType, string> = {
  dataset: '#4fc3f7',
  tasks: '#81c784',
  features: '#aed581',
  zoo: '#ffb74d',
  vae: '#ba68c8',
  encoder: '#f06292',
  diffusion: '#9575cd',
  weights: '#ffd54f',
  metrics: '#90a4ae',
};
