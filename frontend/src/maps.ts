// The two graph views on cytoscape: the network map (HTTP) and the cluster map (usage).

import cytoscape from 'cytoscape';
import { GraphEdge, GraphNode } from './graph-model';

const STYLE: any[] = [
  { selector: 'node', style: { 'background-color': 'data(color)', label: 'data(label)', width: 'data(size)', height: 'data(size)', 'font-size': 9, color: 'var(--fg)', 'text-wrap': 'wrap', 'text-valign': 'bottom', 'text-margin-y': 3 } },
  { selector: 'node:parent', style: { 'background-opacity': 0.06, 'border-width': 1, 'border-color': '#8893a3', 'text-valign': 'top', shape: 'round-rectangle' } },
  { selector: 'node[role = "external"]', style: { shape: 'ellipse', 'background-color': '#5aa0d8' } },
  { selector: 'node[role = "collapsed"]', style: { shape: 'hexagon' } },
  { selector: 'node[role = "node"]', style: { shape: 'round-rectangle' } },
  { selector: 'edge', style: { width: 'data(width)', 'line-color': 'data(color)', 'target-arrow-color': 'data(color)', 'target-arrow-shape': 'triangle', 'curve-style': 'bezier', label: 'data(label)', 'font-size': 8, color: '#c0392b', 'text-background-color': '#fff', 'text-background-opacity': 0.7 } },
  { selector: 'edge[stops]', style: { 'line-fill': 'linear-gradient', 'line-gradient-stop-colors': 'data(stops)', 'line-gradient-stop-positions': 'data(positions)' } },
  { selector: ':selected', style: { 'border-width': 3, 'border-color': '#ff9800' } },
];

export interface GraphView {
  destroy(): void;
}

export function renderGraph(
  root: HTMLElement,
  graph: { nodes: GraphNode[]; edges: GraphEdge[] },
  onNode: (id: string, event: MouseEvent) => void,
  onEdge: (edge: GraphEdge, event: MouseEvent) => void,
): GraphView {
  const elements = [
    ...graph.nodes.map((node) => ({ data: { ...node, parent: node.parent } })),
    ...graph.edges.map((edge) => ({ data: { ...edge, stops: edge.stops || undefined, positions: edge.positions || undefined } })),
  ];
  const dark = document.documentElement.dataset.theme === 'dark';
  const style = STYLE.map((rule) => (rule.selector === 'node' ? { ...rule, style: { ...rule.style, color: dark ? '#ddd' : '#222' } } : rule));
  const cy = cytoscape({
    container: root,
    elements,
    style,
    layout: { name: graph.nodes.length > 1 ? 'cose' : 'grid', animate: false, randomize: false, nodeRepulsion: () => 8000, idealEdgeLength: () => 90 } as any,
    wheelSensitivity: 0.3,
  });
  cy.on('tap', 'node', (event: any) => {
    if (!event.target.isParent()) onNode(event.target.id(), event.originalEvent as MouseEvent);
  });
  cy.on('tap', 'edge', (event: any) => {
    const edge = graph.edges.find((e) => e.id === event.target.id());
    if (edge) onEdge(edge, event.originalEvent as MouseEvent);
  });
  cy.on('mouseover', 'edge', (event: any) => {
    root.title = event.target.data('title') ?? '';
  });
  // For tests and the console: the graph behind the canvas.
  (root as any).__cy = cy;
  return { destroy: () => cy.destroy() };
}
