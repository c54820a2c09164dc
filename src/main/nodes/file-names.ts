/** File and folder names made from user-chosen ids (Sampler artifacts, Export). */
/** A task or node id made safe as a file or folder name (never `.` or `..`). */
export function safeName(s: string): string {
  return s.replace(/[^\w.-]+/g, '_').replace(/^\.+$/, (dots) => '_'.repeat(dots.length));
}
