import DevstackPostgres
import Testing

@Suite struct SQLScriptTests {
    @Test func splitsAtTopLevelSemicolonsWithLines() {
        let script = SQLScript(
            """
            -- a comment; not a split
            create table a (x text default 'semi;colon');

            /* block; comment /* nested; */ still */
            insert into a values ('it''s; fine'), (E'back\\'; slash');
            create function f() returns int language sql as $$ select 1; $$;
            create function g() returns int language plpgsql as $body$ begin return 2; end; $body$;
            select "weird;name" from a
            """)
        #expect(script.statements.map(\.line) == [2, 5, 6, 7, 8])
        #expect(script.statements[0].text == "create table a (x text default 'semi;colon')")
        #expect(script.statements[1].text.hasSuffix("(E'back\\'; slash')"))
        #expect(script.statements[2].text.contains("$$ select 1; $$"))
        #expect(script.statements[3].text.contains("begin return 2; end;"))
        #expect(script.statements[4].text == "select \"weird;name\" from a")
    }

    @Test func commentsAndBlanksAreNotStatements() {
        #expect(SQLScript("-- only\n\n;  ;\n/* x */").statements.isEmpty)
    }

    @Test func parametersAreNotDollarQuotes() {
        let script = SQLScript("select $1, $2; select 3")
        #expect(script.statements.map(\.text) == ["select $1, $2", "select 3"])
    }
}
