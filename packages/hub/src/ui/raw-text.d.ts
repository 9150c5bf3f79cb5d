// Assets embedded as text: `?raw` is Vite's (the tests) and build.mjs's (the bundle) way.
declare module '*?raw' {
  const text: string;
  export default text;
}
