import path from 'node:path';
import ts from 'typescript';

// Which members of the public types lack a doc comment. The public types are those the package's
// entries export (directly or through what they re-export); a member is a property or method of
// an exported interface, or of an exported type alias that is an object type (also one written
// inline as a field's type, such as `bytes: { up: number; down: number }`). A member inherited
// from an interface of the package counts where it is declared; members of Node's own types
// (EventEmitter's, for an interface that extends it) are Node's to document.

const ROOT = path.resolve(__dirname, '..', '..');

/** The package's entries, as package.json's exports name them. */
export const PUBLIC_ENTRIES = ['src/index.ts', 'src/http/index.ts', 'src/relay/index.ts', 'src/testing/index.ts', 'src/lab/index.ts'];

/** A member of a public type. */
export interface PublicMember {
  /** 'Type.member', or 'Type.field.member' for a member of an inline object type. */
  name: string;
  /** Its doc comment's text (tags included), '' when it has none. */
  doc: string;
  /** Its type can be a number. */
  numeric: boolean;
  /** 'src/...ts:LINE', to find it. */
  where: string;
}

/** 'Type.member' (or 'Type.field.member' for an inline object type) for each member without a doc comment. */
export function undocumentedMembers(entries: readonly string[] = PUBLIC_ENTRIES): string[] {
  return publicMembers(entries).filter((m) => m.doc === '').map((m) => m.name);
}

/** Every member of the public types, each once (a method's overloads as one, documented when any of them is). */
export function publicMembers(entries: readonly string[] = PUBLIC_ENTRIES): PublicMember[] {
  const config = ts.readConfigFile(path.join(ROOT, 'tsconfig.json'), ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT);
  const program = ts.createProgram(entries.map((e) => path.join(ROOT, e)), { ...options, noEmit: true });
  const checker = program.getTypeChecker();
  const src = path.join(ROOT, 'src') + path.sep;
  const ours = (node: ts.Node) => path.resolve(node.getSourceFile().fileName).startsWith(src);
  const found = new Map<string, PublicMember>();
  const seen = new Set<ts.Node>();

  const docOf = (node: ts.Node) => ts.getJSDocCommentsAndTags(node).filter(ts.isJSDoc).map((doc) => doc.getText()).join('\n');

  /** The members of an object type written in the source: an interface or a type literal. */
  const visitMembers = (owner: string, members: ts.NodeArray<ts.TypeElement>) => {
    for (const member of members) {
      if (!ts.isPropertySignature(member) && !ts.isMethodSignature(member)) continue;
      const name = `${owner}.${member.name.getText()}`;
      const doc = docOf(member);
      const type = checker.getTypeAtLocation(member);
      const numeric = [type, ...(type.isUnion() ? type.types : [])].some((t) => (t.flags & ts.TypeFlags.NumberLike) !== 0);
      const { line } = member.getSourceFile().getLineAndCharacterOfPosition(member.getStart());
      const where = `${path.relative(ROOT, member.getSourceFile().fileName)}:${line + 1}`;
      const before = found.get(name);
      if (!before || (before.doc === '' && doc !== '')) found.set(name, { name, doc, numeric, where });
      if (member.type) visitType(name, member.type);
    }
  };

  /** Object types written inline in a member's or an alias's type (also inside unions, arrays and intersections). */
  const visitType = (owner: string, node: ts.TypeNode) => {
    if (ts.isTypeLiteralNode(node)) visitMembers(owner, node.members);
    else if (ts.isUnionTypeNode(node) || ts.isIntersectionTypeNode(node)) node.types.forEach((t) => visitType(owner, t));
    else if (ts.isArrayTypeNode(node)) visitType(owner, node.elementType);
    else if (ts.isParenthesizedTypeNode(node)) visitType(owner, node.type);
  };

  const visitDeclaration = (decl: ts.Declaration) => {
    if (seen.has(decl) || !ours(decl)) return;
    seen.add(decl);
    if (ts.isInterfaceDeclaration(decl)) {
      visitMembers(decl.name.text, decl.members);
      // Interfaces of the package it extends, exported or not, are part of its shape.
      for (const clause of decl.heritageClauses ?? []) {
        for (const base of clause.types) {
          const symbol = checker.getSymbolAtLocation(base.expression);
          const target = symbol && symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
          target?.declarations?.forEach(visitDeclaration);
        }
      }
    } else if (ts.isTypeAliasDeclaration(decl)) {
      visitType(decl.name.text, decl.type);
    }
  };

  for (const entry of entries) {
    const file = program.getSourceFile(path.join(ROOT, entry));
    const moduleSymbol = file && checker.getSymbolAtLocation(file);
    if (!moduleSymbol) throw new Error(`cannot read ${entry}`);
    for (const exported of checker.getExportsOfModule(moduleSymbol)) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      symbol.declarations?.forEach(visitDeclaration);
    }
  }
  return [...found.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
}
