// The installer is embedded in the hub bundle as text (esbuild's text loader).
declare module '*.sh' {
  const text: string;
  export default text;
}
