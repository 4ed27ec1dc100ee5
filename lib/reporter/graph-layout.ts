/**
 * A layered layout of a task graph for the HTML report: one band per level (a task's level is one more
 * than its deepest dependency's), top to bottom in the order things happen. Within a level, tasks sit in
 * boxes of their group (a namespace such as `base`, or the instances of one task such as every
 * `node-prep[node=...]`), each box a grid at most `columns` wide, and boxes wrap onto another line rather than
 * making one row thousands of pixels wide.
 */
export interface LayoutTask {
  readonly id: string;
  readonly group: string;
  readonly level: number;
}

export interface Box {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface GraphLayout {
  readonly width: number;
  readonly height: number;
  readonly tasks: ReadonlyMap<string, Box>;
  readonly groups: readonly (Box & { readonly label: string; readonly level: number })[];
  readonly levels: readonly (Box & { readonly level: number })[];
}

export const cell = { width: 200, height: 30, gap: 6 } as const;
const columns = 4;
const boxPadding = 8;
const labelHeight = 18;
const boxGap = 14;
const levelGap = 40;
const levelLabelWidth = 70;
const maxWidth = 1500;

export function layoutGraph(tasks: readonly LayoutTask[]): GraphLayout {
  const byLevel = new Map<number, Map<string, string[]>>();
  for (const task of tasks) {
    let groups = byLevel.get(task.level);
    if (!groups) byLevel.set(task.level, (groups = new Map()));
    let ids = groups.get(task.group);
    if (!ids) groups.set(task.group, (ids = []));
    ids.push(task.id);
  }
  const positions = new Map<string, Box>();
  const groupBoxes: (Box & { label: string; level: number })[] = [];
  const levelBoxes: (Box & { level: number })[] = [];
  let y = 0;
  let width = 0;
  for (const level of [...byLevel.keys()].sort((a, b) => a - b)) {
    const levelTop = y;
    let x = levelLabelWidth;
    let lineHeight = 0;
    for (const [label, ids] of [...byLevel.get(level)!].sort(([a], [b]) => a.localeCompare(b))) {
      ids.sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
      const across = Math.min(columns, ids.length);
      const down = Math.ceil(ids.length / columns);
      const boxWidth = boxPadding * 2 + across * cell.width + (across - 1) * cell.gap;
      const boxHeight = labelHeight + boxPadding * 2 + down * cell.height + (down - 1) * cell.gap;
      if (x > levelLabelWidth && x + boxWidth > maxWidth) {
        x = levelLabelWidth;
        y += lineHeight + boxGap;
        lineHeight = 0;
      }
      groupBoxes.push({ x, y, width: boxWidth, height: boxHeight, label, level });
      ids.forEach((id, index) => {
        positions.set(id, {
          x: x + boxPadding + (index % columns) * (cell.width + cell.gap),
          y: y + labelHeight + boxPadding + Math.floor(index / columns) * (cell.height + cell.gap),
          width: cell.width,
          height: cell.height,
        });
      });
      x += boxWidth + boxGap;
      width = Math.max(width, x);
      lineHeight = Math.max(lineHeight, boxHeight);
    }
    y += lineHeight;
    levelBoxes.push({ x: 0, y: levelTop, width: levelLabelWidth, height: y - levelTop, level });
    y += levelGap;
  }
  return { width: Math.max(width, levelLabelWidth), height: Math.max(0, y - levelGap), tasks: positions, groups: groupBoxes, levels: levelBoxes };
}
